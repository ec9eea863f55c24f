/** JSON body parsing for the API routes: size limit (413), JSON only (415), unreadable (400). */
import express, { type Request, type Response } from 'express';
import { ErrorCodes, permanent } from '../errors.ts';

export function jsonBody(limitBytes: number) {
  const parse = express.json({ limit: limitBytes, strict: true });
  return (req: Request, res: Response): Promise<unknown> => {
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    if (!type.startsWith('application/json')) {
      return Promise.reject(permanent(ErrorCodes.UNSUPPORTED_MEDIA_TYPE, 'expected Content-Type: application/json'));
    }
    return new Promise((resolve, reject) =>
      parse(req, res, (error?: unknown) => {
        if (!error) return resolve(req.body);
        const status = (error as { status?: number }).status;
        reject(
          status === 413
            ? permanent(ErrorCodes.BODY_TOO_LARGE, `request body larger than ${limitBytes} bytes`)
            : permanent(ErrorCodes.INVALID_ARGUMENT, `unreadable JSON body: ${(error as Error).message}`),
        );
      }),
    );
  };
}
