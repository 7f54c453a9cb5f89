import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT } from 'jose';

/**
 * Development only: an HS256 secret kept in the state directory and a
 * long-lived token for organisation `dev` with every scope, printed by
 * `npm run dev` and written to .lakesync/dev-token.
 */
export async function devAuth(stateDir: string, configuredSecret: string | undefined): Promise<{ secret: string; token: string; tokenFile: string }> {
  await mkdir(stateDir, { recursive: true });
  const secretFile = join(stateDir, 'auth-secret');
  let secret = configuredSecret ?? (await readFile(secretFile, 'utf8').catch(() => '')).trim();
  if (!secret) {
    secret = randomBytes(32).toString('base64url');
    await writeFile(secretFile, secret, { mode: 0o600 });
  }
  const token = await new SignJWT({ org: 'dev', scope: 'read write admin' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('dev')
    .setIssuedAt()
    .setExpirationTime('30d')
    .sign(new TextEncoder().encode(secret));
  const tokenFile = join(stateDir, 'dev-token');
  await writeFile(tokenFile, token + '\n', { mode: 0o600 });
  return { secret, token, tokenFile };
}
