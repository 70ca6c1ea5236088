/**
 * The demo MCP `calculator` tool's arithmetic: numbers, `+ - * / % ^`, parentheses and unary
 * minus, parsed by recursive descent (never `eval`). Throws `CalculatorError` on bad input.
 */
export class CalculatorError extends Error {}

const MAX_EXPRESSION_LENGTH = 500;

export function calculate(expression: string): number {
  if (expression.length > MAX_EXPRESSION_LENGTH) throw new CalculatorError(`expression longer than ${MAX_EXPRESSION_LENGTH} characters`);
  const parser = new ExpressionParser(expression);
  const value = parser.parse();
  if (!Number.isFinite(value)) throw new CalculatorError('result is not a finite number');
  return value;
}

class ExpressionParser {
  private pos = 0;

  constructor(private readonly text: string) {}

  parse(): number {
    const value = this.sum();
    this.skipSpaces();
    if (this.pos < this.text.length) throw new CalculatorError(`unexpected '${this.text[this.pos]}' at position ${this.pos + 1}`);
    return value;
  }

  private sum(): number {
    let value = this.product();
    for (let op = this.operator('+-'); op !== null; op = this.operator('+-')) {
      const right = this.product();
      value = op === '+' ? value + right : value - right;
    }
    return value;
  }

  private product(): number {
    let value = this.power();
    for (let op = this.operator('*/%'); op !== null; op = this.operator('*/%')) {
      const right = this.power();
      if (op !== '*' && right === 0) throw new CalculatorError('division by zero');
      value = op === '*' ? value * right : op === '/' ? value / right : value % right;
    }
    return value;
  }

  /** `^` is right-associative and binds tighter than unary minus on its left (-2^2 = -4). */
  private power(): number {
    if (this.operator('-') !== null) return -this.power();
    if (this.operator('+') !== null) return this.power();
    const base = this.atom();
    return this.operator('^') !== null ? base ** this.power() : base;
  }

  private atom(): number {
    this.skipSpaces();
    if (this.text[this.pos] === '(') {
      this.pos++;
      const value = this.sum();
      if (this.operator(')') === null) throw new CalculatorError(`missing ')' at position ${this.pos + 1}`);
      return value;
    }
    const match = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?/.exec(this.text.slice(this.pos));
    if (match === null) throw new CalculatorError(`expected a number at position ${this.pos + 1}`);
    this.pos += match[0].length;
    return Number(match[0]);
  }

  private operator(allowed: string): string | null {
    this.skipSpaces();
    const char = this.text[this.pos];
    if (char === undefined || !allowed.includes(char)) return null;
    this.pos++;
    return char;
  }

  private skipSpaces(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }
}
