// The negative vectors file, test/vectors/tally-v1-negative.json: invalid settlement bundles and
// series [P-8.5, P-8.6] and segments [P-4.5, P-5], each with what a conforming verifier or hub
// gives. Written by `npm run vectors` with the golden vectors.

import { negativeBundles, negativeSeries, acceptedBundles } from './negative-bundles.js';
import { segmentCases, segmentContext } from './negative-segments.js';
import { DEVICE_SEED, HUB_SEED, makeWorld, OTHER_DEVICE_SEED, STRANGER_SEED } from './world.js';

export function negativeVectors(): Record<string, unknown> {
  const w = makeWorld();
  return {
    format: 'tally-vectors-negative/1',
    about:
      'Invalid Tally inputs (docs/protocol.md) built from the seeds of tally-v1.json, with the reasons a conforming verifier or hub gives; regenerate with npm run vectors. Bundles: reasons are "clause code", every check of 8.5 that fails, in its order; a verifier that stops at the first gives `reason`. Segments: published to a hub in the state of `context`.',
    keys: {
      hub: { seed: HUB_SEED, publicKey: w.hub.publicKey },
      device: { seed: DEVICE_SEED, publicKey: w.device.publicKey },
      otherDevice: { seed: OTHER_DEVICE_SEED, publicKey: w.other.publicKey },
      stranger: { seed: STRANGER_SEED, publicKey: w.stranger.publicKey },
    },
    bundles: negativeBundles(w),
    series: negativeSeries(w),
    accepted: acceptedBundles(w),
    segments: { context: segmentContext(w), cases: segmentCases(w) },
  };
}
