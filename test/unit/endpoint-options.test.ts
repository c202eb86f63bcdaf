import { describe, expect, it } from 'vitest';
import { Endpoint } from '../../src/index.js';

// Option checks happen before any device is opened, so they run on the host.
describe('Endpoint small-message options', () => {
  it("refuses a wrong progress, spinUs, inline or signalEvery with TypeError/RangeError", async () => {
    const base = { host: '192.0.2.1', port: 1 };
    await expect(Endpoint.connect({ ...base, progress: 'spin' as never })).rejects.toThrow(TypeError);
    await expect(Endpoint.listen({ host: '192.0.2.1', progress: 1 as never })).rejects.toThrow(TypeError);
    await expect(Endpoint.connect({ ...base, spinUs: -1 })).rejects.toThrow(RangeError);
    await expect(Endpoint.connect({ ...base, inline: 1.5 })).rejects.toThrow(RangeError);
    await expect(Endpoint.connect({ ...base, inline: 5000 })).rejects.toThrow(RangeError);
    await expect(Endpoint.connect({ ...base, signalEvery: 0 })).rejects.toThrow(RangeError);
  });
});
