// QR codes as inline SVG, drawn from the vendored qrcode-generator module (build.sh copies it
// into /static/vendor/). Without that file the pages still work: the text is shown instead.

const VENDORED = new URL("../vendor/qrcode-generator.mjs", import.meta.url);
const SVG = "http://www.w3.org/2000/svg";

let encoder;
async function loadEncoder() {
  if (encoder === undefined) {
    encoder = import(VENDORED.href).then((m) => m.default, () => null);
  }
  return encoder;
}

/**
 * Draw `text` as a QR code into `container` (replacing its content), labelled `label` for
 * assistive technology. Resolves true when drawn, false when the encoder is missing.
 */
export async function renderQr(container, text, label) {
  const qrcode = await loadEncoder();
  container.replaceChildren();
  if (!qrcode) {
    const note = document.createElement("p");
    note.className = "hint";
    note.textContent = "The QR code cannot be drawn: this server lacks its QR module (run `make web`).";
    container.append(note);
    return false;
  }
  const qr = qrcode(0, "M"); // type 0: the smallest version that fits; M: 15% error correction
  qr.addData(text);
  qr.make();
  const count = qr.getModuleCount();
  const quiet = 4; // the quiet zone the standard asks for, in modules
  const size = count + 2 * quiet;
  let path = "";
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; col += 1) {
      if (qr.isDark(row, col)) path += `M${col + quiet} ${row + quiet}h1v1h-1z`;
    }
  }
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${size} ${size}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.setAttribute("shape-rendering", "crispEdges");
  svg.classList.add("qr");
  const background = document.createElementNS(SVG, "rect");
  background.setAttribute("width", String(size));
  background.setAttribute("height", String(size));
  background.setAttribute("fill", "#ffffff");
  const modules = document.createElementNS(SVG, "path");
  modules.setAttribute("d", path);
  modules.setAttribute("fill", "#000000");
  svg.append(background, modules);
  container.append(svg);
  return true;
}
