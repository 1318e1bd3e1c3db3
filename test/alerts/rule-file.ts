/**
 * Reads the shipped rule file and the promtool unit-test files into plain
 * typed values for the structural checks (the tools judge the rest).
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

import { RULES_FILE, RUNBOOKS_FILE, ruleTestFiles } from './tools.js';

export interface AlertRule {
  group: string;
  alert: string;
  expr: string;
  for: string | null;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RecordingRule {
  group: string;
  record: string;
  expr: string;
  labels: Record<string, string>;
}

export interface RuleFile {
  groups: string[];
  alerts: AlertRule[];
  records: RecordingRule[];
  /** The file as text, for checks on comments. */
  text: string;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new Error(`expected a map, got ${JSON.stringify(value)}`);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
}

export function loadRuleFile(path = RULES_FILE): RuleFile {
  const text = readFileSync(path, 'utf8');
  const doc: unknown = parse(text);
  if (!isRecord(doc) || !Array.isArray(doc['groups'])) throw new Error(`${path}: no groups`);
  const file: RuleFile = { groups: [], alerts: [], records: [], text };
  for (const group of doc['groups'] as unknown[]) {
    if (!isRecord(group) || typeof group['name'] !== 'string' || !Array.isArray(group['rules'])) {
      throw new Error(`${path}: malformed group ${JSON.stringify(group)}`);
    }
    const name = group['name'];
    file.groups.push(name);
    for (const rule of group['rules'] as unknown[]) {
      if (!isRecord(rule) || typeof rule['expr'] !== 'string') throw new Error(`${path}: malformed rule in ${name}`);
      if (typeof rule['alert'] === 'string') {
        file.alerts.push({
          group: name,
          alert: rule['alert'],
          expr: rule['expr'],
          for: typeof rule['for'] === 'string' ? rule['for'] : null,
          labels: stringMap(rule['labels']),
          annotations: stringMap(rule['annotations']),
        });
      } else if (typeof rule['record'] === 'string') {
        file.records.push({
          group: name,
          record: rule['record'],
          expr: rule['expr'],
          labels: stringMap(rule['labels']),
        });
      } else {
        throw new Error(`${path}: rule in ${name} is neither alert nor record`);
      }
    }
  }
  return file;
}

/** The text of one alert's rule entry, from `- alert: NAME` to the next rule or group. */
export function alertBlockText(text: string, alert: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^\\s*- alert: ${alert}\\s*$`).test(l));
  if (start < 0) return '';
  let end = start + 1;
  while (end < lines.length && !/^\s*- (alert|record|name):/.test(lines[end] as string)) end += 1;
  return lines.slice(start, end).join('\n');
}

export interface AlertTestCase {
  file: string;
  group: string;
  alertname: string;
  evalTime: string;
  expAlerts: Array<{ labels: Record<string, string>; annotations: Record<string, string> }>;
}

/** Every `alert_rule_test` case of every alerts/tests/*.yml file. */
export function loadAlertTestCases(): AlertTestCase[] {
  const cases: AlertTestCase[] = [];
  for (const file of ruleTestFiles()) {
    const doc: unknown = parse(readFileSync(file, 'utf8'));
    if (!isRecord(doc) || !Array.isArray(doc['tests'])) continue;
    for (const group of doc['tests'] as unknown[]) {
      if (!isRecord(group) || !Array.isArray(group['alert_rule_test'])) continue;
      for (const tc of group['alert_rule_test'] as unknown[]) {
        if (!isRecord(tc) || typeof tc['alertname'] !== 'string') continue;
        const exp = Array.isArray(tc['exp_alerts']) ? (tc['exp_alerts'] as unknown[]) : [];
        cases.push({
          file,
          group: typeof group['name'] === 'string' ? group['name'] : '(unnamed)',
          alertname: tc['alertname'],
          evalTime: String(tc['eval_time']),
          expAlerts: exp.map((a) => ({
            labels: isRecord(a) ? stringMap(a['exp_labels']) : {},
            annotations: isRecord(a) ? stringMap(a['exp_annotations']) : {},
          })),
        });
      }
    }
  }
  return cases;
}

/** GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens. */
export function githubAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** Anchors of every heading in docs/runbooks.md. */
export function runbookAnchors(path = RUNBOOKS_FILE): Set<string> {
  const anchors = new Set<string>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (m?.[1]) anchors.add(githubAnchor(m[1]));
  }
  return anchors;
}

/** Anchors of the level-2 headings of docs/runbooks.md (one per alert). */
export function runbookSectionAnchors(path = RUNBOOKS_FILE): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => /^##\s+(.+?)\s*$/.exec(l)?.[1])
    .filter((h): h is string => h !== undefined)
    .map(githubAnchor);
}
