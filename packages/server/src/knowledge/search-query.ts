import { searchTerms } from './rank.js';

/**
 * A chat message as the widget sends it (OpenAI's shape): text, or parts of
 * which the text ones count.
 */
export interface ConversationMessage {
  role: string;
  content?: unknown;
}

/**
 * Options of {@link searchQueryFor}.
 */
export interface SearchQueryOptions {
  /** Distinct content words that make the last message a question of its own. Default: `6`. */
  selfContainedTerms?: number;
  /** Most earlier visitor messages added to a follow-up. Default: `2`. */
  maxEarlierMessages?: number;
  /** Characters of the assistant's last answer added when the visitor's messages are not enough. Default: `300`. */
  answerCharacters?: number;
  /** Longest query, in characters; the oldest context is cut first. Default: `1_000`. */
  maxCharacters?: number;
}

/**
 * The query a conversation's last question is searched with, and what went
 * into it.
 *
 * @example
 * ```ts
 * const { query, followUp } = searchQueryFor(messages);
 * ```
 */
export interface SearchQuery {
  query: string;
  /** Whether earlier messages were added (the last one was too short to stand alone). */
  followUp: boolean;
  /** Messages the query was built from, counting the last one. */
  messagesUsed: number;
}

// Words that say nothing about what is asked: a follow-up such as "and how
// much is it?" is all of them but one, so they must not count towards making
// a message stand alone.
const FILLER_WORDS = new Set(
  (
    'a about after again all also am an and any are as at be been but by can could did do does for from get got had has have he her ' +
    'here him his how i if in into is it its just me more much my no not now of on one or other our please she should so some ' +
    'than thanks that the their them then there these they thing this those to too us very was we were what when where which who ' +
    'why will with would yes you your'
  ).split(' '),
);

/** The text of a message's content: a string, or its text parts joined. */
export function messageText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .map((part: unknown) => {
      const candidate = part as { type?: unknown; text?: unknown } | null;
      return candidate?.type === 'text' && typeof candidate.text === 'string' ? candidate.text : '';
    })
    .filter(Boolean)
    .join(' ');
}

function contentTerms(text: string, into: Set<string>): void {
  for (const term of searchTerms(text)) if (!FILLER_WORDS.has(term)) into.add(term);
}

/**
 * The words of a query worth matching in a keyword index: its content words
 * (filler such as "the", "how", "is" left out, which match nearly every
 * passage and only cost time), each once, in order; the query as it is when
 * it has none.
 *
 * @example
 * ```ts
 * keywordQuery('How much is the Pro plan?'); // 'pro plan'
 * ```
 */
export function keywordQuery(query: string): string {
  const terms = new Set<string>();
  contentTerms(query, terms);
  return terms.size === 0 ? query : [...terms].join(' ');
}

/**
 * The search query for a conversation's last visitor message, built by one
 * rule so that a follow-up ("and how much is it?") is searched with what it
 * refers to:
 *
 * 1. The last `user` message alone, when it has at least
 *    `selfContainedTerms` distinct content words (filler such as "and", "how",
 *    "it" does not count): a question of its own is not diluted by old topics.
 * 2. Otherwise it is a follow-up: the previous visitor messages are put before
 *    it, newest first, until the content words reach `selfContainedTerms` or
 *    `maxEarlierMessages` were added.
 * 3. Still short, the first `answerCharacters` of the assistant's answer just
 *    before the last message are added too (what "it" names is often there).
 * 4. The query is at most `maxCharacters`; the oldest part is cut first, and
 *    the last message is never cut (past the limit, it is used alone, cut).
 *
 * System messages never count. Without a visitor message the query is empty.
 *
 * @example
 * ```ts
 * searchQueryFor([
 *   { role: 'user', content: 'Do you sell the Pro plan in Europe?' },
 *   { role: 'assistant', content: 'Yes, Pro is sold in the EU.' },
 *   { role: 'user', content: 'And how much is it?' },
 * ]).query; // 'Do you sell the Pro plan in Europe?\nYes, Pro is sold in the EU.\nAnd how much is it?'
 * ```
 */
export function searchQueryFor(messages: readonly ConversationMessage[], options: SearchQueryOptions = {}): SearchQuery {
  const wanted = options.selfContainedTerms ?? 6;
  const maxEarlier = options.maxEarlierMessages ?? 2;
  const answerCharacters = options.answerCharacters ?? 300;
  const maxCharacters = options.maxCharacters ?? 1_000;

  let last = -1;
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    if (messages[index]!.role === 'user' && messageText(messages[index]!.content).trim()) {
      last = index;
      break;
    }
  }
  if (last === -1) return { query: '', followUp: false, messagesUsed: 0 };
  const question = messageText(messages[last]!.content).trim();
  if (question.length >= maxCharacters) return { query: question.slice(0, maxCharacters), followUp: false, messagesUsed: 1 };

  const terms = new Set<string>();
  contentTerms(question, terms);
  // Context pieces, nearest the question first; joined in conversation order at the end.
  const context: string[] = [];
  let length = question.length;
  let cutShort = false;
  // Adds a piece while there is room, cut from its start (its end is nearer the question).
  const take = (text: string): boolean => {
    const room = maxCharacters - length - 1;
    if (room <= 0) return false;
    const kept = text.length > room ? text.slice(text.length - room) : text;
    cutShort = kept.length < text.length;
    context.push(kept);
    length += kept.length + 1;
    contentTerms(kept, terms);
    return true;
  };

  let added = 0;
  const before = messages[last - 1];
  const answer = before?.role === 'assistant' ? messageText(before.content).trim().slice(0, answerCharacters) : '';
  const visitorMessages: string[] = [];
  for (let index = last - 1; index >= 0 && visitorMessages.length < maxEarlier; index -= 1) {
    if (messages[index]!.role !== 'user') continue;
    const text = messageText(messages[index]!.content).trim();
    if (text) visitorMessages.push(text);
  }
  for (const text of visitorMessages) {
    if (terms.size >= wanted || cutShort || !take(text)) break;
    added += 1;
  }
  let answerUsed = false;
  if (terms.size < wanted && !cutShort && answer) {
    // The answer came between the visitor's earlier messages and the question.
    const room = maxCharacters - length - 1;
    if (room > 0) {
      context.unshift(answer.slice(0, room));
      answerUsed = true;
    }
  }
  // `context` is the answer (if any), then the visitor's messages newest first: reversed, the
  // visitor's oldest message comes first and the answer last, as in the conversation.
  const ordered = answerUsed ? [...context.slice(1).reverse(), context[0]!] : [...context].reverse();
  return { query: [...ordered, question].join('\n'), followUp: context.length > 0, messagesUsed: 1 + added + (answerUsed ? 1 : 0) };
}
