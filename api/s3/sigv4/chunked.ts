// Decoder of aws-chunked bodies (Content-Encoding: aws-chunked): checks each chunk signature chained from
// the seed signature, the decoded length, and the trailing checksum (and its signature) after the last
// chunk. Streams: decoded bytes pass on as they arrive, so a caller must discard what it wrote when the
// stream errors. Memory is bounded: chunk-size and trailer lines are capped, data is never buffered.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { sha256Hex } from './canonical.js';
import { checksumAlgorithmOfHeader, checksumDisplayName, createChecksum, type ChecksumAlgorithm, type RunningChecksum } from './checksums.js';
import { SIGNATURE_MISMATCH_MESSAGE, SigV4Error } from './errors.js';
import type { ChunkSigning, PayloadMode } from './payload.js';
import { signaturesEqual } from '../../../domain/sigv4-key.js';

/** A chunk-size line is "<hex>;chunk-signature=<64 hex>": far below this. Trailer lines too. */
const MAX_LINE_BYTES = 4096;
const MAX_TRAILERS = 16;

type State = 'size-line' | 'data' | 'data-crlf' | 'trailers' | 'done';

const malformed = (why: string): SigV4Error => new SigV4Error('InvalidRequest', `Malformed aws-chunked body: ${why}`);
const incomplete = (): SigV4Error => new SigV4Error('IncompleteBody', 'The request body ended before the aws-chunked encoding was complete.');
const badTrailer = (why: string): SigV4Error =>
  new SigV4Error('MalformedTrailerError', `The request contained trailing data that was not well-formed or did not conform to our published schema: ${why}`);

export class AwsChunkedDecoder extends Transform {
  /** The verified trailing checksum, once the stream has ended without error. */
  checksum: { algorithm: ChecksumAlgorithm; base64: string } | null = null;

  readonly #signing: ChunkSigning | null;
  readonly #acceptsTrailers: boolean;
  readonly #trailerAlgorithm: ChecksumAlgorithm | null;
  readonly #decodedLength: number;
  readonly #running: RunningChecksum | null;
  #state: State = 'size-line';
  #line: Buffer[] = [];
  #lineBytes = 0;
  #remaining = 0;
  #crlfSeen = 0;
  #chunkSignature = '';
  #chunkHash: Hash | null = null;
  #previousSignature: string;
  #decoded = 0;
  #trailers: { name: string; value: string }[] = [];
  #trailerSignature: string | null = null;

  constructor(mode: Extract<PayloadMode, { kind: 'aws-chunked' }>) {
    super();
    this.#signing = mode.signing;
    this.#acceptsTrailers = mode.trailers;
    this.#trailerAlgorithm = mode.trailerChecksum;
    this.#decodedLength = mode.decodedLength;
    this.#running = mode.trailerChecksum ? createChecksum(mode.trailerChecksum) : null;
    this.#previousSignature = mode.signing?.seedSignature ?? '';
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#consume(chunk);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    this.#finish().then(
      () => callback(),
      (err: unknown) => callback(err as Error),
    );
  }

  #consume(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.#state) {
        case 'size-line': {
          const [line, next] = this.#takeLine(chunk, pos);
          pos = next;
          if (line !== null) this.#startChunk(line);
          break;
        }
        case 'data': {
          const n = Math.min(this.#remaining, chunk.length - pos);
          const data = chunk.subarray(pos, pos + n);
          pos += n;
          this.#remaining -= n;
          this.#decoded += n;
          if (this.#decoded > this.#decodedLength) throw malformed('more data than x-amz-decoded-content-length.');
          this.#chunkHash?.update(data);
          this.#running?.update(data);
          this.push(data);
          if (this.#remaining === 0) {
            this.#verifyChunk(this.#chunkHash ? this.#chunkHash.digest('hex') : '');
            this.#state = 'data-crlf';
            this.#crlfSeen = 0;
          }
          break;
        }
        case 'data-crlf': {
          const expected = this.#crlfSeen === 0 ? 0x0d : 0x0a;
          if (chunk[pos] !== expected) throw malformed('chunk data is not followed by CRLF.');
          pos += 1;
          this.#crlfSeen += 1;
          if (this.#crlfSeen === 2) this.#state = 'size-line';
          break;
        }
        case 'trailers': {
          const [line, next] = this.#takeLine(chunk, pos);
          pos = next;
          if (line !== null) this.#trailerLine(line);
          break;
        }
        case 'done':
          // Nothing may follow the final empty line but stray line ends.
          if (chunk[pos] !== 0x0d && chunk[pos] !== 0x0a) throw malformed('data after the end of the aws-chunked body.');
          pos += 1;
          break;
      }
    }
  }

  /** Collects one CRLF-terminated line across buffers; [line or null while incomplete, next position]. */
  #takeLine(chunk: Buffer, pos: number): [string | null, number] {
    const nl = chunk.indexOf(0x0a, pos);
    const end = nl < 0 ? chunk.length : nl;
    if (this.#lineBytes + (end - pos) > MAX_LINE_BYTES) throw malformed('a chunk header or trailer line is too long.');
    this.#line.push(chunk.subarray(pos, end));
    this.#lineBytes += end - pos;
    if (nl < 0) return [null, chunk.length];
    const text = Buffer.concat(this.#line).toString('latin1');
    this.#line = [];
    this.#lineBytes = 0;
    if (!text.endsWith('\r')) throw malformed('a line is not terminated by CRLF.');
    return [text.slice(0, -1), nl + 1];
  }

  #startChunk(line: string): void {
    const m = this.#signing ? /^([0-9a-fA-F]{1,15});chunk-signature=([0-9a-fA-F]{64})$/.exec(line) : /^([0-9a-fA-F]{1,15})(?:;.*)?$/.exec(line);
    if (!m) throw malformed(this.#signing ? 'expected "<hex size>;chunk-signature=<signature>".' : 'expected "<hex size>".');
    const size = parseInt(m[1]!, 16);
    this.#chunkSignature = m[2] ?? '';
    if (size === 0) {
      this.#verifyChunk(this.#signing ? sha256Hex('') : '');
      this.#state = 'trailers';
      return;
    }
    this.#remaining = size;
    this.#chunkHash = this.#signing ? createHash('sha256') : null;
    this.#state = 'data';
  }

  #verifyChunk(chunkSha256Hex: string): void {
    if (!this.#signing) return;
    const expected = this.#signing.chunkSignature(this.#previousSignature, chunkSha256Hex);
    if (!signaturesEqual(expected, this.#chunkSignature)) throw new SigV4Error('SignatureDoesNotMatch', SIGNATURE_MISMATCH_MESSAGE);
    this.#previousSignature = expected;
  }

  #trailerLine(line: string): void {
    if (line === '') {
      this.#state = 'done';
      return;
    }
    if (!this.#acceptsTrailers) throw badTrailer('this payload mode carries no trailing headers.');
    const colon = line.indexOf(':');
    if (colon <= 0) throw badTrailer(`"${line.slice(0, 64)}" is not "name:value".`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') {
      if (!this.#signing) throw badTrailer('x-amz-trailer-signature in an unsigned payload.');
      if (this.#trailerSignature !== null) throw badTrailer('x-amz-trailer-signature given twice.');
      this.#trailerSignature = value;
      return;
    }
    if (this.#trailerSignature !== null) throw badTrailer('a trailing header after x-amz-trailer-signature.');
    if (this.#trailers.length >= MAX_TRAILERS) throw badTrailer('too many trailing headers.');
    this.#trailers.push({ name, value });
  }

  async #finish(): Promise<void> {
    // Lenient at the very end: a last trailer line or the final empty line may lack its CRLF.
    if (this.#state === 'trailers' && this.#lineBytes > 0) {
      const text = Buffer.concat(this.#line).toString('latin1').replace(/\r$/, '');
      this.#line = [];
      this.#lineBytes = 0;
      this.#trailerLine(text);
    }
    if (this.#state !== 'trailers' && this.#state !== 'done') throw incomplete();
    if (this.#decoded !== this.#decodedLength) {
      throw new SigV4Error(
        'IncompleteBody',
        `You did not provide the number of bytes specified by x-amz-decoded-content-length (${this.#decodedLength}); got ${this.#decoded}.`,
      );
    }
    if (this.#signing && this.#acceptsTrailers) {
      if (this.#trailerSignature === null) throw badTrailer('x-amz-trailer-signature is missing.');
      const canonical = this.#trailers.map((t) => `${t.name}:${t.value}\n`).join('');
      const expected = this.#signing.trailerSignature(this.#previousSignature, sha256Hex(canonical));
      if (!signaturesEqual(expected, this.#trailerSignature)) throw new SigV4Error('SignatureDoesNotMatch', SIGNATURE_MISMATCH_MESSAGE);
    }
    const announced = this.#trailerAlgorithm;
    for (const t of this.#trailers) {
      const algorithm = checksumAlgorithmOfHeader(t.name);
      if (!algorithm || algorithm !== announced) throw badTrailer(`"${t.name}" was not announced in x-amz-trailer.`);
    }
    if (!announced) return;
    const given = this.#trailers.find((t) => checksumAlgorithmOfHeader(t.name) === announced);
    if (!given) throw badTrailer(`x-amz-checksum-${announced} was announced in x-amz-trailer but not sent.`);
    const computed = await this.#running!.digestBase64();
    if (computed !== given.value) {
      throw new SigV4Error('BadDigest', `The ${checksumDisplayName(announced)} you specified did not match the calculated checksum.`);
    }
    this.checksum = { algorithm: announced, base64: computed };
  }
}
