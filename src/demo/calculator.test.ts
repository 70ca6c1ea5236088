import { describe, expect, it } from 'vitest';
import { calculate, CalculatorError } from './calculator.js';

describe('calculator', () => {
  it.each([
    ['1 + 2 * 3', 7],
    ['(1 + 2) * 3', 9],
    ['-2 ^ 2', -4],
    ['2 ^ 3 ^ 2', 512],
    ['10 % 4 - -1', 3],
    ['1.5e2 / .5', 300],
  ])('%s = %d', (expression, value) => {
    expect(calculate(expression)).toBe(value);
  });

  it.each(['', '1 +', '(1', '1 / 0', '2 ** 3', 'x', '1'.repeat(501)])('refuses %j', (expression) => {
    expect(() => calculate(expression)).toThrow(CalculatorError);
  });
});
