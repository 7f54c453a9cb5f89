// S3's XML: answers built and request bodies parsed with fast-xml-parser. Request bodies are read with a
// byte cap first, so an endless body cannot grow the heap; a document type declaration is refused (as S3
// refuses it), so no entity can be declared, let alone expand.
import type { Response } from 'express';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import type { Readable } from 'node:stream';
import { S3Error } from './errors.js';

const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const builder = new XMLBuilder({ ignoreAttributes: false, attributeNamePrefix: '@_', suppressEmptyNode: false, processEntities: true });

export type XmlValue = string | number | boolean | Date | null | undefined | XmlObject | XmlValue[];
export interface XmlObject {
  [name: string]: XmlValue;
}

/** S3's timestamps: ISO 8601 with milliseconds, UTC. */
const iso = (d: Date) => d.toISOString();

function normalise(value: XmlValue): unknown {
  if (value instanceof Date) return iso(value);
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined && v !== null) out[k] = normalise(v);
    return out;
  }
  return value;
}

/** One XML document: `<root xmlns=S3>…</root>`; undefined and null fields are left out, arrays repeat their element. */
export function xmlDocument(root: string, body: XmlObject, namespace = true): string {
  const content = normalise(body) as Record<string, unknown>;
  const tree = { [root]: namespace ? { '@_xmlns': S3_NS, ...content } : content };
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build(tree) as string}`;
}

export function sendXml(res: Response, status: number, root: string, body: XmlObject): void {
  const doc = xmlDocument(root, body);
  res.status(status).setHeader('Content-Type', 'application/xml');
  res.setHeader('Content-Length', String(Buffer.byteLength(doc)));
  res.end(doc);
}

/** Reads a request body of at most `maxBytes`: S3 answers MalformedXML for one too large to be a valid document. */
export async function readCapped(body: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      body.destroy();
      throw new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  // Numeric character references too: Go's encoder (s5cmd, rclone) writes a quote as `&#34;`, so ETags and keys
  // arrive that way. No entity can be declared (a DOCTYPE is refused above), so nothing else expands.
  htmlEntities: true,
  // Elements that repeat are arrays even when there is one.
  isArray: (name) => name === 'Object' || name === 'Part',
});

/** Parses an XML request body; MalformedXML when it is not XML or its root is not `root`. */
export function parseXml(bytes: Buffer, root: string): Record<string, unknown> {
  const malformed = () => new S3Error('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema.');
  let doc: Record<string, unknown>;
  if (/<!DOCTYPE/i.test(bytes.toString('latin1'))) throw malformed();
  try {
    doc = parser.parse(bytes.toString('utf8'), true) as Record<string, unknown>;
  } catch {
    throw malformed();
  }
  const top = doc[root];
  if (top === undefined || top === null || typeof top !== 'object') {
    if (top === '') return {};
    throw malformed();
  }
  return top as Record<string, unknown>;
}

/** `encoding-type=url`: S3 percent-encodes as a form would, keeping `/` (clients decode with unquote_plus / decodeURIComponent alike). */
export const urlEncodeKey = (s: string): string => encodeURIComponent(s).replace(/%2F/g, '/');
