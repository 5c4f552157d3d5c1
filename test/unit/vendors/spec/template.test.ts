import { describe, expect, it } from 'vitest';
import {
  evaluate,
  evaluateJson,
  evaluateRecord,
  MissingValueError,
  templatePaths,
  templateProblems,
} from '../../../../functions/vendors/kit/template';

const scope = {
  file: { name: 'march.csv', size: 120, extension: 'csv' },
  options: { metadata: { source: 'x' }, empty: '', paths: { presign: '/p/{id}' } },
  refs: { fileId: 'F1' },
  answer: { files: [{ id: 'F9' }], ok: true },
};

describe('templates', () => {
  it.each([
    ['a lone placeholder keeps its type', '{file.size}', 120],
    ['an object stays an object', '{options.metadata}', { source: 'x' }],
    ['text fills every placeholder', 'name={file.name}; size={file.size}', 'name=march.csv; size=120'],
    ['alternatives take the first value set', '{refs.filename|file.name}', 'march.csv'],
    ['array indexes are path segments', '{answer.files.0.id}', 'F9'],
    ['an unset lone placeholder is undefined', '{options.nope}', undefined],
    ['a set-but-empty value is kept as empty', '{options.empty|refs.nope}', ''],
    ['text without placeholders is itself', 'Bearer', 'Bearer'],
  ])('%s', (_name, template, expected) => {
    // Act + Assess
    expect(evaluate(template, scope)).toEqual(expected);
  });

  it('refuses text whose placeholder is unset, naming it', () => {
    // Act
    const run = () => evaluate('Bearer {secret.token}', scope);

    // Assess
    expect(run).toThrow(MissingValueError);
    expect(run).toThrow(/secret\.token/);
  });

  it('leaves unset entries out of JSON bodies and records, and evaluates keys', () => {
    // Act
    const json = evaluateJson(
      {
        '{refs.fileId}': '{file.name}',
        meta: '{options.metadata}',
        gone: '{options.nope}',
        list: ['{options.nope}', 1],
      },
      scope,
    );
    const record = evaluateRecord({ filename: '{file.name}', alt: '{options.nope}' }, scope);

    // Assess
    expect(json).toEqual({ F1: 'march.csv', meta: { source: 'x' }, list: [1] });
    expect(record).toEqual({ filename: 'march.csv' });
  });

  it('reports malformed templates and unknown roots, every one', () => {
    // Act
    const problems = [
      ...templateProblems('{file.name'),
      ...templateProblems('{vendor.id}'),
      ...templateProblems('{file..name}'),
      ...templateProblems('a {file.name} b {refs.x|answer.y.0}'),
    ];

    // Assess
    expect(problems).toHaveLength(3);
    expect(problems.join('\n')).toMatch(/unbalanced/);
    expect(problems.join('\n')).toMatch(/starts with "vendor"/);
    expect(problems.join('\n')).toMatch(/dotted path/);
    expect(templatePaths('a {file.name} b {refs.x|answer.y.0}')).toEqual([
      ['file', 'name'],
      ['refs', 'x'],
      ['answer', 'y', '0'],
    ]);
  });
});
