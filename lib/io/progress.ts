/**
 * Progress reporting on stderr. Draws a one-line bar when stderr is a
 * terminal; otherwise stays quiet except for occasional plain lines (so logs
 * of batch jobs stay readable). Never writes to stdout.
 *
 * @module
 */

const enc = new TextEncoder();

/** Options for {@link Progress}. */
export interface ProgressOptions {
  /** Label shown before the counter. */
  label: string;
  /** Total number of items, if known. */
  total?: number;
  /** Force drawing on or off (default: when stderr is a terminal and --quiet is not set). */
  enabled?: boolean;
  /** Non-terminal mode: print a plain line every this many seconds (0 = never). */
  logEverySeconds?: number;
}

/** A progress line with rate and ETA. */
export class Progress {
  #label: string;
  #total?: number;
  #done = 0;
  #start = performance.now();
  #lastDraw = 0;
  #tty: boolean;
  #enabled: boolean;
  #logEvery: number;
  #extra = "";

  constructor(opts: ProgressOptions) {
    this.#label = opts.label;
    this.#total = opts.total;
    this.#tty = Deno.stderr.isTerminal();
    this.#enabled = opts.enabled ?? true;
    this.#logEvery = opts.logEverySeconds ?? 0;
  }

  /** Advances by `n` items; `extra` is shown after the counter (e.g. "loss 0.42"). */
  tick(n = 1, extra?: string): void {
    this.#done += n;
    if (extra !== undefined) this.#extra = extra;
    const now = performance.now();
    const interval = this.#tty ? 100 : this.#logEvery * 1000;
    if (!this.#enabled || interval <= 0 || now - this.#lastDraw < interval) return;
    this.#lastDraw = now;
    this.#draw(false);
  }

  /** Prints a message above the bar (or as a plain line). */
  log(msg: string): void {
    if (this.#tty && this.#enabled) Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
    Deno.stderr.writeSync(enc.encode(msg + "\n"));
    if (this.#tty && this.#enabled) this.#draw(false);
  }

  /** Finishes the line. */
  done(): void {
    if (this.#enabled && this.#tty) this.#draw(true);
  }

  #draw(final: boolean): void {
    const secs = (performance.now() - this.#start) / 1000;
    const rate = this.#done / Math.max(secs, 1e-9);
    let line = `${this.#label} ${this.#done}`;
    if (this.#total !== undefined) {
      const frac = Math.min(1, this.#done / Math.max(this.#total, 1));
      const width = 20;
      const fill = Math.round(frac * width);
      line = `${this.#label} [${"#".repeat(fill)}${
        "-".repeat(width - fill)
      }] ${this.#done}/${this.#total}`;
      if (!final && rate > 0) line += ` eta ${fmtSecs((this.#total - this.#done) / rate)}`;
    }
    line += ` ${rate.toFixed(rate < 10 ? 2 : 0)}/s`;
    if (this.#extra) line += ` ${this.#extra}`;
    if (final) line += ` (${fmtSecs(secs)})`;
    const out = this.#tty ? `\r\x1b[K${line}${final ? "\n" : ""}` : `${line}\n`;
    Deno.stderr.writeSync(enc.encode(out));
  }
}

function fmtSecs(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
