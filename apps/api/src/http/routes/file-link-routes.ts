import { Router } from 'express';
import { FILE_LINK_PATH } from '@wamedia/server';
import type { LinkedFiles } from '../../services/linked-files.js';
import { sendMedia } from '../send-media.js';

/**
 * GET /media/files/:sha256?exp&name&type&sig: the file a signed link names, with Range, ETag and
 * 304 as every media route. No bearer token: the signature is the authority (see LinkedFiles).
 */
export function fileLinkRoutes(options: { linkedFiles: LinkedFiles }): Router {
  const router = Router();
  router.get(`${FILE_LINK_PATH}/:sha256`, async (req, res) => {
    await sendMedia(req, res, await options.linkedFiles.open(req.params.sha256, req.query));
  });
  return router;
}
