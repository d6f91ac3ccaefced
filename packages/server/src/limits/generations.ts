/**
 * Generations each response (or each image) costs, by model. A model not
 * listed costs what its longest listed prefix costs (`gpt-4o-2024-08-06` →
 * `gpt-4o`), and `default` when no prefix matches.
 */
export type GenerationCosts = Readonly<Record<string, number>>;

/**
 * The default table. The first four are the product's historical prices;
 * the others follow OpenAI's relative list prices (a cheap model 1, a
 * flagship several, reasoning models more).
 *
 * @example
 * ```ts
 * createAirlock({ proxy: { generationCosts: { ...defaultGenerationCosts, 'gpt-4o': 3 } } });
 * ```
 */
export const defaultGenerationCosts: GenerationCosts = {
  'gpt-3.5-turbo': 1,
  'gpt-3.5-turbo-16k': 2,
  'gpt-4': 20,
  'gpt-4-turbo': 10,
  'gpt-4o-mini': 1,
  'gpt-4o': 5,
  'gpt-4.1-nano': 1,
  'gpt-4.1-mini': 1,
  'gpt-4.1': 4,
  'gpt-5-nano': 1,
  'gpt-5-mini': 1,
  'gpt-5': 5,
  'o1-mini': 5,
  o1: 30,
  'o3-mini': 4,
  o3: 10,
  'o4-mini': 4,
  'dall-e': 2,
  'dall-e-2': 2,
  'dall-e-3': 4,
  'gpt-image-1': 4,
  'gpt-image-1-mini': 2,
  default: 5,
};

/**
 * Generations one response of `model` costs under `costs`.
 *
 * @example
 * ```ts
 * generationCost('gpt-4o-2024-08-06', defaultGenerationCosts); // 5
 * ```
 */
export function generationCost(model: string, costs: GenerationCosts = defaultGenerationCosts): number {
  const exact = costs[model];
  if (exact !== undefined) return exact;
  let best: string | undefined;
  for (const name of Object.keys(costs)) {
    if (name !== 'default' && model.startsWith(name) && (best === undefined || name.length > best.length)) best = name;
  }
  return best === undefined ? (costs.default ?? defaultGenerationCosts.default!) : costs[best]!;
}

/**
 * Context window of a model in tokens, for the `standard` memory strategy.
 * Unknown models get a conservative 8,192.
 *
 * @example
 * ```ts
 * contextWindow('gpt-4o-mini'); // 128000
 * ```
 */
export function contextWindow(model: string): number {
  const windows: [string, number][] = [
    ['gpt-3.5-turbo-16k', 16_385],
    ['gpt-3.5-turbo', 16_385],
    ['gpt-4-turbo', 128_000],
    ['gpt-4o', 128_000],
    ['gpt-4.1', 1_047_576],
    ['gpt-5', 400_000],
    ['gpt-4', 8_192],
    ['o1-mini', 128_000],
    ['o1', 200_000],
    ['o3', 200_000],
    ['o4', 200_000],
  ];
  return windows.find(([prefix]) => model.startsWith(prefix))?.[1] ?? 8_192;
}
