/**
 * Short documents on ten known topics, and queries about each topic phrased
 * in words no document uses: what the embedding tests and the vector
 * benchmark search. Deterministic, so a failure replays.
 */

interface Topic {
  name: string;
  /** What the topic's documents talk about. */
  words: string[];
  /** Queries about the topic, sharing no word with any document. */
  queries: string[];
}

export const TOPICS: readonly Topic[] = [
  {
    name: 'cooking',
    words: ['oven', 'bake', 'flour', 'sugar', 'recipe', 'kitchen', 'butter', 'dough', 'bread', 'cake', 'chef', 'soup', 'sauce', 'roast', 'pastry'],
    queries: ['culinary dessert preparation', 'gourmet cuisine', 'baker making loaves'],
  },
  {
    name: 'astronomy',
    words: [
      'planet',
      'telescope',
      'galaxy',
      'star',
      'orbit',
      'astronaut',
      'rocket',
      'moon',
      'comet',
      'nebula',
      'asteroid',
      'cosmos',
      'satellite',
      'spacecraft',
      'solar',
    ],
    queries: ['outer space exploration', 'celestial bodies', 'NASA lunar landing'],
  },
  {
    name: 'football',
    words: [
      'goal',
      'striker',
      'referee',
      'match',
      'league',
      'penalty',
      'stadium',
      'goalkeeper',
      'midfielder',
      'tournament',
      'coach',
      'fans',
      'score',
      'defender',
      'kick',
    ],
    queries: ['soccer championship game', 'players winning trophy', 'World Cup squad'],
  },
  {
    name: 'medicine',
    words: [
      'doctor',
      'hospital',
      'patient',
      'surgery',
      'nurse',
      'diagnosis',
      'vaccine',
      'disease',
      'treatment',
      'clinic',
      'symptoms',
      'medication',
      'infection',
      'therapy',
      'physician',
    ],
    queries: ['healthcare illness cure', 'sick people recovering', 'medical ward'],
  },
  {
    name: 'finance',
    words: [
      'stock',
      'investor',
      'market',
      'shares',
      'dividend',
      'bank',
      'interest',
      'inflation',
      'bond',
      'portfolio',
      'trading',
      'profit',
      'economy',
      'currency',
      'loan',
    ],
    queries: ['wall street equities', 'money lending rates', 'financial crisis recession'],
  },
  {
    name: 'music',
    words: [
      'guitar',
      'piano',
      'concert',
      'melody',
      'orchestra',
      'singer',
      'song',
      'album',
      'drummer',
      'violin',
      'chorus',
      'rhythm',
      'band',
      'symphony',
      'lyrics',
    ],
    queries: ['musician performing tunes', 'jazz musicians', 'rock festival'],
  },
  {
    name: 'computing',
    words: [
      'software',
      'code',
      'programmer',
      'compiler',
      'database',
      'server',
      'algorithm',
      'bug',
      'debugging',
      'function',
      'variable',
      'network',
      'encryption',
      'keyboard',
      'laptop',
    ],
    queries: ['developer writing program', 'computer hacking', 'internet cybersecurity'],
  },
  {
    name: 'gardening',
    words: [
      'garden',
      'seeds',
      'soil',
      'flowers',
      'tomato',
      'watering',
      'compost',
      'roses',
      'tulips',
      'weeds',
      'shovel',
      'greenhouse',
      'bloom',
      'harvest',
      'vegetables',
    ],
    queries: ['horticulture planting', 'growing herbs outdoors', 'lawn mower yard'],
  },
  {
    name: 'weather',
    words: [
      'rain',
      'storm',
      'thunder',
      'forecast',
      'temperature',
      'snow',
      'wind',
      'clouds',
      'hurricane',
      'humidity',
      'fog',
      'drought',
      'lightning',
      'sunshine',
      'tornado',
    ],
    queries: ['meteorology predictions', 'heavy downpour flooding', 'freezing cold blizzard'],
  },
  {
    name: 'law',
    words: [
      'judge',
      'court',
      'lawyer',
      'trial',
      'jury',
      'verdict',
      'attorney',
      'prosecutor',
      'defendant',
      'testimony',
      'witness',
      'lawsuit',
      'sentence',
      'appeal',
      'evidence',
    ],
    queries: ['legal proceedings', 'criminal justice convicted', 'murder case accused'],
  },
];

/** Sentence frames: the slots take a topic's words, the rest is the same for every topic. */
const FRAMES = ['The {0} and the {1} were near the {2}.', 'Everyone talked about the {0} after the {1}.', 'A {0} is what the {1} needed for the {2}.'];

/** A small deterministic generator (mulberry32), so the corpus is the same on every run. */
function generator(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `perTopic` documents per topic, keyed `<topic>/doc-<n>.txt`: three sentences of the topic's words each. */
export function topicCorpus(perTopic: number, seed = 19): Map<string, string> {
  const next = generator(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const docs = new Map<string, string>();
  for (const topic of TOPICS)
    for (let n = 0; n < perTopic; n++) {
      const sentences = Array.from({ length: 3 }, () => pick(FRAMES).replace(/\{\d\}/g, () => pick(topic.words)));
      docs.set(`${topic.name}/doc-${String(n).padStart(3, '0')}.txt`, sentences.join(' '));
    }
  return docs;
}

export const topicOfKey = (key: string): string => key.split('/')[0]!;

/** Every word of a text, lowercased. */
export const wordSet = (text: string): Set<string> => new Set((text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) as string[]);
