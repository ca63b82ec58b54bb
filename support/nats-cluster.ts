// The nats-server cluster harness lives in common/ (the simulator's embedded cluster starts one
// too); tests and benchmarks keep importing it from here.
export * from '../common/nats-cluster.js';
