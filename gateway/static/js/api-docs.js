// The API documentation page (/docs): Swagger UI started from this file rather than an
// inline script, which the pages' Content-Security-Policy forbids (gateway/security_headers.py).
// "Authorize" takes a store or admin credential (psk_...) for the bearer scheme; Swagger UI
// then sends it as "Authorization: Bearer ..." with every "Try it out".
/* global SwaggerUIBundle */
(function start() {
  const me = document.currentScript;
  window.ui = SwaggerUIBundle({
    url: me.dataset.openapi,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
})();
