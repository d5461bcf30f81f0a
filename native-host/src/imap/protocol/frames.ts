/**
 * Cuts the client's byte stream into command frames: a line, and for every literal the line
 * announces ({n} or LITERAL+ {n+}), the literal bytes and the line that follows. Every length
 * is bounded, so no input can make the server hold more than the configured limits, and the
 * sink can stop the reading after any frame (the rest of the chunk is handed back), so
 * pipelined commands wait as bytes rather than as parsed frames.
 */

export interface Frame {
  /** Lines without their CRLF; lines[i] ends with the marker of literals[i]. */
  lines: Buffer[];
  literals: Buffer[];
}

export type FrameErrorKind = 'line-too-long' | 'literal-too-big' | 'command-too-big';

export interface FrameError {
  kind: FrameErrorKind;
  /** The tag of the offending command when it could be read (for a tagged BAD). */
  tag: string | null;
  /** True when the stream cannot be resynchronised (a non-synchronising literal was refused). */
  fatal: boolean;
}

export interface FrameLimits {
  maxLineLength: number;
  /** Largest literal; `isAppend` lets APPEND carry messages larger than other commands' literals. */
  maxLiteralSize: (isAppend: boolean) => number;
  /** Sum of all lines and literals of one command. */
  maxCommandSize: (isAppend: boolean) => number;
  /**
   * True: an over-long line is skipped to its end and a refused synchronising literal never
   * arrives, so the next command can be read. False (before login, where no client needs
   * either): every refusal is fatal and reported at once, and reading stops.
   */
  resynchronise: boolean;
}

export interface FrameSink {
  /** A complete command; false stops the reading here (see {@link FrameReader.push}). */
  frame(frame: Frame): boolean;
  /** A synchronising literal is accepted: the server must send a continuation request now. */
  continuation(): void;
  error(error: FrameError): void;
}

const LITERAL_MARKER = /\{(\d{1,10})(\+?)\}$/;
const APPEND_COMMAND = /^[^ ]+ (?:UID +)?APPEND /i;

export function frameTag(line: Buffer): string | null {
  const space = line.indexOf(0x20);
  const tag = line
    .subarray(0, space < 0 ? Math.min(line.length, 64) : Math.min(space, 64))
    .toString('latin1');
  return /^[\x21-\x7e]+$/.test(tag) && !/[(){%*"\\+]/.test(tag) ? tag : null;
}

export class FrameReader {
  private lines: Buffer[] = [];
  private literals: Buffer[] = [];
  private partial: Buffer[] = [];
  private partialLength = 0;
  /** Bytes still expected for the current literal, or -1 when reading a line. */
  private literalRemaining = -1;
  private literalChunks: Buffer[] = [];
  /** Discarding an over-long line up to its LF. */
  private discardingLine = false;
  private discardTag: string | null = null;
  private commandSize = 0;
  private isAppend = false;
  /** A fatal error was reported: nothing more is read. */
  private stopped = false;

  constructor(
    private limits: FrameLimits,
    private readonly sink: FrameSink,
  ) {}

  /** New limits from the next line on (the session's change at login). */
  setLimits(limits: FrameLimits): void {
    this.limits = limits;
  }

  /**
   * Reads `chunk`. Returns the bytes not read when the sink stopped the reading after a frame,
   * to be pushed again later; null when all was read (or dropped after a fatal error).
   */
  push(chunk: Buffer): Buffer | null {
    let pos = 0;
    while (pos < chunk.length && !this.stopped) {
      if (this.literalRemaining >= 0) {
        const take = Math.min(this.literalRemaining, chunk.length - pos);
        this.literalChunks.push(chunk.subarray(pos, pos + take));
        this.literalRemaining -= take;
        pos += take;
        if (this.literalRemaining === 0) {
          this.literals.push(Buffer.concat(this.literalChunks));
          this.literalChunks = [];
          this.literalRemaining = -1;
        }
        continue;
      }
      const lf = chunk.indexOf(0x0a, pos);
      const end = lf < 0 ? chunk.length : lf;
      if (this.discardingLine) {
        pos = end + 1;
        if (lf >= 0) {
          this.discardingLine = false;
          this.sink.error({ kind: 'line-too-long', tag: this.discardTag, fatal: false });
          this.reset();
        }
        continue;
      }
      if (this.partialLength + (end - pos) > this.limits.maxLineLength) {
        this.discardTag = frameTag(
          Buffer.concat([...this.lines.slice(0, 1), ...this.partial, chunk.subarray(pos, end)]),
        );
        if (!this.limits.resynchronise) {
          this.stop({ kind: 'line-too-long', tag: this.discardTag, fatal: true });
          return null;
        }
        this.discardingLine = true;
        this.partial = [];
        this.partialLength = 0;
        continue;
      }
      this.partial.push(chunk.subarray(pos, end));
      this.partialLength += end - pos;
      pos = end + 1;
      if (lf >= 0 && !this.completeLine())
        return this.stopped || pos >= chunk.length ? null : chunk.subarray(pos);
    }
    return null;
  }

  private stop(error: FrameError): void {
    this.stopped = true;
    this.reset();
    this.literalChunks = [];
    this.literalRemaining = -1;
    this.sink.error(error);
  }

  private reset(): void {
    this.lines = [];
    this.literals = [];
    this.partial = [];
    this.partialLength = 0;
    this.commandSize = 0;
    this.isAppend = false;
  }

  /** False when the sink asked to stop after the frame this line completed. */
  private completeLine(): boolean {
    let line = Buffer.concat(this.partial);
    this.partial = [];
    this.partialLength = 0;
    if (line.length && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (this.lines.length === 0)
      this.isAppend = APPEND_COMMAND.test(line.subarray(0, 64).toString('latin1'));
    this.lines.push(line);
    this.commandSize += line.length;
    const marker = LITERAL_MARKER.exec(
      line.subarray(Math.max(0, line.length - 14)).toString('latin1'),
    );
    if (!marker) {
      const frame: Frame = { lines: this.lines, literals: this.literals };
      this.reset();
      return this.sink.frame(frame);
    }
    const size = Number(marker[1]);
    const nonSync = marker[2] === '+';
    if (
      size > this.limits.maxLiteralSize(this.isAppend) ||
      this.commandSize + size > this.limits.maxCommandSize(this.isAppend)
    ) {
      const tag = frameTag(this.lines[0]!);
      const kind =
        size > this.limits.maxLiteralSize(this.isAppend) ? 'literal-too-big' : 'command-too-big';
      // A refused synchronising literal is never sent; a non-synchronising one is already on
      // its way and cannot be told apart from commands: the connection must end.
      if (nonSync || !this.limits.resynchronise) {
        this.stop({ kind, tag, fatal: true });
        return false;
      }
      this.reset();
      this.sink.error({ kind, tag, fatal: false });
      return true;
    }
    this.commandSize += size;
    this.literalRemaining = size;
    if (size === 0) {
      this.literals.push(Buffer.alloc(0));
      this.literalRemaining = -1;
    }
    if (!nonSync) this.sink.continuation();
    return true;
  }
}
