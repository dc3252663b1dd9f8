"""``/docs`` without the internet: Swagger UI from files the service serves itself.

FastAPI's default docs page loads Swagger UI from a CDN, so it is blank on a machine without
internet access. The ``swagger-ui-bundle-v2`` package ships Swagger UI's dist files (5.x, which
renders the OpenAPI 3.1 documents FastAPI writes; the older ``swagger-ui-bundle`` ships 4.15,
which does not); they are mounted under ``ASSETS`` and the page points at them, as FastAPI's
"Custom Docs UI Static Assets (Self-Hosting)" guide describes. ReDoc is left off: its script
only comes from a CDN.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/docs/assets"


def add_offline_docs(app: FastAPI) -> None:
    """Serve Swagger UI's files under ``ASSETS`` and ``/docs`` from them.

    The app must be made with ``docs_url=None`` and ``redoc_url=None``.
    """
    app.mount(ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url, title=f"{app.title} - docs",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon-32x32.png",
            # Swagger UI sends the document's URL to validator.swagger.io unless told not to.
            swagger_ui_parameters={"validatorUrl": None})
