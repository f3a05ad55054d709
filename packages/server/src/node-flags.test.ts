import { describe, expect, it } from 'vitest';
import { allocatorEnv, nodeFlags, nodeFlagsUnder, withAllocatorDefaults } from './node-flags.js';

describe('nodeFlagsUnder', () => {
  it('keeps every flag when NODE_OPTIONS is empty or names others', () => {
    expect(nodeFlagsUnder(nodeFlags.api, '')).toEqual([...nodeFlags.api]);
    expect(nodeFlagsUnder(['--max-old-space-size=384', '--max-semi-space-size=1'], '--enable-source-maps  --max-semi-space-size-x=2')).toEqual([
      '--max-old-space-size=384',
      '--max-semi-space-size=1',
    ]);
  });

  it('drops a flag NODE_OPTIONS sets itself, whatever its value and however V8 spells it', () => {
    const flags = ['--max-old-space-size=384', '--max-semi-space-size=1'];
    expect(nodeFlagsUnder(flags, '--max-old-space-size=1024')).toEqual(['--max-semi-space-size=1']);
    expect(nodeFlagsUnder(flags, ' --enable-source-maps --max_semi_space_size=4 ')).toEqual(['--max-old-space-size=384']);
  });
});

describe('withAllocatorDefaults', () => {
  it('adds the allocator settings to an environment that has none', () => {
    expect(withAllocatorDefaults({ PORT: '8083' })).toEqual({ PORT: '8083', ...allocatorEnv });
  });

  it('keeps a value the operator set', () => {
    expect(withAllocatorDefaults({ MALLOC_ARENA_MAX: '8' }).MALLOC_ARENA_MAX).toBe('8');
  });
});
