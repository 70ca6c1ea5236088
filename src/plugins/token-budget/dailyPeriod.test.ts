import { describe, expect, it } from 'vitest';
import { DailyPeriod } from './dailyPeriod.js';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('DailyPeriod: the budget day in a time zone', () => {
  it('UTC: the calendar day, resetting at 00:00Z', () => {
    const day = new DailyPeriod('UTC').at(at('2026-11-23T14:30:00.000Z'));
    expect(day).toEqual({ date: '2026-11-23', startMs: at('2026-11-23T00:00:00.000Z'), endMs: at('2026-11-24T00:00:00.000Z') });
  });

  it('a zone ahead of UTC: local date and local midnight', () => {
    // 23:30Z on the 23rd is already the 24th in Tokyo (UTC+9); it resets at 15:00Z on the 24th
    const day = new DailyPeriod('Asia/Tokyo').at(at('2026-11-23T23:30:00.000Z'));
    expect(day.date).toBe('2026-11-24');
    expect(iso(day.startMs)).toBe('2026-11-23T15:00:00.000Z');
    expect(iso(day.endMs)).toBe('2026-11-24T15:00:00.000Z');
  });

  it('half-hour offsets (India, UTC+5:30)', () => {
    const day = new DailyPeriod('Asia/Kolkata').at(at('2026-06-01T12:00:00.000Z'));
    expect(day.date).toBe('2026-06-01');
    expect(iso(day.endMs)).toBe('2026-06-01T18:30:00.000Z');
  });

  it('daylight saving: a 23-hour and a 25-hour day (Europe/Paris)', () => {
    const spring = new DailyPeriod('Europe/Paris').at(at('2026-03-29T10:00:00.000Z'));
    expect(spring.date).toBe('2026-03-29');
    expect(spring.endMs - spring.startMs).toBe(23 * 3_600_000);
    const autumn = new DailyPeriod('Europe/Paris').at(at('2026-10-25T10:00:00.000Z'));
    expect(autumn.endMs - autumn.startMs).toBe(25 * 3_600_000);
    expect(iso(autumn.endMs)).toBe('2026-10-25T23:00:00.000Z');
  });

  it('a zone whose midnight is skipped: the day starts at 01:00 (America/Santiago, DST start)', () => {
    // Chile moves 24:00 → 01:00 on the first Sunday of September (2026-09-06).
    const p = new DailyPeriod('America/Santiago');
    const before = p.at(at('2026-09-05T12:00:00.000Z'));
    expect(before.date).toBe('2026-09-05');
    const after = p.at(before.endMs);
    expect(after.date).toBe('2026-09-06');
    expect(after.startMs).toBe(before.endMs);
    expect(p.dateOf(before.endMs - 1)).toBe('2026-09-05');
  });

  it('a skipped calendar day (Samoa, 2011-12-30) still gives contiguous budget days', () => {
    const p = new DailyPeriod('Pacific/Apia');
    const d29 = p.at(at('2011-12-29T12:00:00.000Z'));
    expect(d29.date).toBe('2011-12-29');
    expect(p.at(d29.endMs).date).toBe('2011-12-31');
  });

  it('reuses the computed day until it ends, then moves on', () => {
    const p = new DailyPeriod('UTC');
    const a = p.at(at('2026-11-23T00:00:00.000Z'));
    expect(p.at(at('2026-11-23T23:59:59.999Z'))).toBe(a);
    expect(p.at(at('2026-11-24T00:00:00.000Z')).date).toBe('2026-11-24');
    // the clock going back still gives the right day
    expect(p.at(at('2026-11-22T12:00:00.000Z')).date).toBe('2026-11-22');
  });
});
