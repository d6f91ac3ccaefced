import type { AnswerSource } from '@airlock/protocol';
import type { ConversationMessage } from '../core/conversation';
import type { WidgetStrings } from '../locales/strings';
import type { Shell } from './shell';

/** What a view is built with, and reports back to its owner. */
export interface ViewOptions {
  shell: Shell;
  strings: WidgetStrings;
  signal: AbortSignal;
  /** The visitor sent: a message (chat: Enter, the Send button or a suggestion), or the form's values by input name. */
  onSubmit: (input: string | Record<string, string | number>) => void;
  onStop: () => void;
  onCopy: (text: string, button: HTMLButtonElement) => void;
}

/** An answer being streamed into. */
export interface ReplyView {
  append(delta: string): void;
  /** Marks the answer complete and adds its sources, when it has any, and its actions. */
  finish(sources?: AnswerSource[]): void;
  remove(): void;
}

/**
 * What the widget's renderer asks of a view (chat, completion or image) to show
 * a conversation: DOM only, no network and no conversation state.
 */
export interface View {
  /** Chat only: the settings the transcript's intro follows. */
  configure?(config: { greeting?: string; placeholder?: string; suggestedPrompts?: string[] }): void;
  /** Chat only: a visitor's message. */
  addUserMessage?(text: string): void;
  /** A finished answer: a restored chat reply, or an image. */
  addAnswer?(message: ConversationMessage): void;
  /** An answer about to stream in (chat and completion). */
  startReply?(): ReplyView;
  setBusy(busy: boolean): void;
  clear(): void;
  focus(): void;
}
