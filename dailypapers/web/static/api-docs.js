// Swagger UI on this site's own OpenAPI document (a file, so the page needs no inline script).
window.ui = SwaggerUIBundle({
  url: document.body.dataset.openapi,
  dom_id: "#swagger-ui",
  deepLinking: true,
});
