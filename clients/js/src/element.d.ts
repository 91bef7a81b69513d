// <boxoffice-waiting-room>: the WaitingRoom with a small view (element.js).
import type { WaitingRoom, WaitingRoomEvents, Status } from './index.js';

export const TEXTS: Readonly<Record<'joining' | 'position' | 'eta' | 'prequeue' | 'admitted' | 'expired' | 'closed' | 'refused' | 'retry' | 'paused' | 'joinAgain', string>>;

export class WaitingRoomElement extends HTMLElement {
  static readonly observedAttributes: string[];
  /** The sentences shown, by key (placeholders {n}, {t}, {s}); default TEXTS. */
  texts: Partial<typeof TEXTS>;
  /** The loop, once `concert` and `user` are set and the element is in the document. */
  readonly room: WaitingRoom | null;
  /** The admission's token once admitted, else null. */
  readonly token: string | null;
  readonly status: Status;
  addEventListener<K extends keyof WaitingRoomEvents>(type: K, listener: (event: WaitingRoomEvents[K]) => void, options?: boolean | AddEventListenerOptions): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}

declare global {
  interface HTMLElementTagNameMap {
    'boxoffice-waiting-room': WaitingRoomElement;
  }
}
