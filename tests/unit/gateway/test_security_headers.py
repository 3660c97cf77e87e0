"""The static files the pages may load, and the hardening headers."""

from __future__ import annotations

import pytest

from gateway.app import STATIC
from gateway.security_headers import CONTENT_SECURITY_POLICY, PageFiles, security_headers


@pytest.mark.parametrize("path", ["package.json", "package-lock.json", "build.sh",
                                  "README.md", "node_modules/.package-lock.json",
                                  ".gitignore", "css/../package.json", "../app.py"])
def test_build_files_are_not_found(path):
    assert PageFiles(directory=STATIC).lookup_path(path)[1] is None


@pytest.mark.parametrize("path", ["css/pages.css", "js/api.js", "js/api-docs.js",
                                  "consortium.json"])
def test_what_the_pages_load_is_found(path):
    assert PageFiles(directory=STATIC).lookup_path(path)[1] is not None


def test_the_policy_allows_no_inline_script_and_no_framing():
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    headers = dict(security_headers(600))
    assert headers[b"strict-transport-security"] == b"max-age=600"
    assert b"strict-transport-security" not in dict(security_headers(0))
