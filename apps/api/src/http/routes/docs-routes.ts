import express, { Router } from 'express';
// Only the folder's path: the package's main module loads the whole UI bundle into the server.
import swaggerUiFolder from 'swagger-ui-dist/absolute-path.js';

/** The OpenAPI document at /openapi.json and Swagger UI, served from its npm package, at /docs. */
export function docsRoutes(document: object): Router {
  const router = Router();
  const body = JSON.stringify(document);
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').send(body);
  });
  router.get('/docs', (_req, res) => {
    res.type('html').send(docsPage);
  });
  router.use('/docs/assets', express.static(swaggerUiFolder(), { index: false }));
  return router;
}

const docsPage = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>wamedia API</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="docs"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script>SwaggerUIBundle({ url: '/openapi.json', dom_id: '#docs' });</script>
</body>
</html>`;
