// Vigil's Swagger UI set-up (replaces swagger-ui-dist's swagger-initializer.js):
// the document is this server's /api/openapi.json. Tokens from POST /auth
// are entered with the Authorize button (the `bearer` security scheme) and
// sent as `Authorization: Bearer <token>` on the calls made from the page.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
};
