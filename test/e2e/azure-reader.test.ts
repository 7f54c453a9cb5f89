/**
 * The azure reader on its own, against Azurite: pages resume strictly after
 * the key they are given (List Blobs' startFrom is inclusive), keys are
 * relative to the prefix, folder markers are skipped, Content-MD5 is the
 * content hash, and a HEAD gives what metadata filters read.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { AzureSourceReader } from '../../activities/storage/azure-source.js';
import type { AzuriteServer } from '../../infra/azurite-server.js';
import { azureContainer, startTestAzurite, uploadAll } from '../support/azurite.js';

describe('AzureSourceReader', () => {
  let azurite: AzuriteServer;
  let container: ContainerClient;
  const keys = ['a.txt', 'b/c.txt', 'b/d e.txt', 'b/ü.txt', 'z.txt'];

  beforeAll(async () => {
    azurite = await startTestAzurite();
    container = await azureContainer(azurite, 'reader');
    await uploadAll(container, 'in/', new Map(keys.map((k) => [k, Buffer.from(`body of ${k}`)])));
    await uploadAll(
      container,
      '',
      new Map([
        ['in/b/', Buffer.alloc(0)],
        ['out.txt', Buffer.from('x')],
      ]),
    );
  });
  afterAll(async () => azurite?.stop());

  it('lists a prefix in pages, each strictly after the key the last one ended on', async () => {
    const reader = new AzureSourceReader(container, 'in/');
    const seen: string[] = [];
    const pages: (string | null)[] = [];
    let after: string | null = null;
    do {
      const page = await reader.listPage(after, 2);
      expect(page.objects.length).toBeLessThanOrEqual(2);
      seen.push(...page.objects.map((o) => o.key));
      pages.push(page.nextAfterKey);
      after = page.nextAfterKey;
    } while (after !== null);
    expect(seen).toEqual(keys);
    // The folder marker "in/b/" takes a place in a page but is never an object.
    expect(pages.at(-1)).toBeNull();
    const whole = await reader.listPage(null, 100);
    expect(whole).toMatchObject({ nextAfterKey: null });
    expect(whole.objects.map((o) => o.key)).toEqual(keys);
    for (const o of whole.objects) {
      expect(o.etag).toMatch(/^0x[0-9A-F]+$/);
      expect(o.size).toBe(Buffer.byteLength(`body of ${o.key}`));
      expect(o.lastModified).toBeInstanceOf(Date);
    }
    expect((await reader.listPage('b/ü.txt', 10)).objects.map((o) => o.key)).toEqual(['z.txt']);
    expect(await reader.listPage('z.txt', 10)).toEqual({ objects: [], nextAfterKey: null });
  });

  it('streams a blob and gives its Content-MD5 as the content hash', async () => {
    const reader = new AzureSourceReader(container, 'in/');
    const { body } = await reader.openRead('b/d e.txt');
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('body of b/d e.txt');
    expect(await reader.contentHash('b/d e.txt')).toBe(`md5:${createHash('md5').update('body of b/d e.txt').digest('hex')}`);
    await expect(reader.openRead('missing.txt')).rejects.toMatchObject({ name: 'AzureStorageError', code: 'BlobNotFound', status: 404, foreignAnswer: false });
  });

  it('heads a blob for metadata filters: its Content-Type and user metadata, null once it is gone', async () => {
    await container.getBlockBlobClient('in/meta.csv').upload('a,b', 3, {
      blobHTTPHeaders: { blobContentType: 'text/csv' },
      metadata: { Team: 'finance', tier: '2' },
    });
    const reader = new AzureSourceReader(container, 'in/');
    const azure = new BlobServiceClient(container.url.replace(/\/[^/]+$/, ''), container.credential);
    expect(await reader.head('meta.csv')).toEqual({ contentType: 'text/csv', metadata: { team: 'finance', tier: '2' } });
    await container.getBlobClient('in/meta.csv').delete();
    expect(await reader.head('meta.csv')).toBeNull();
    // A missing container is a failure of the run, not every key gone.
    const orphan = new AzureSourceReader(azure.getContainerClient('no-such-container'), '');
    await expect(orphan.head('meta.csv')).rejects.toMatchObject({ name: 'AzureStorageError', code: 'ContainerNotFound', status: 404 });
  });
});
