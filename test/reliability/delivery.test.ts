// Delivery faults between real agents (SQLite outboxes) and one hub with its embedded broker and
// SQLite file: the cases of helpers/delivery-cases.ts. The same cases run against a 3-hub cluster
// in cluster-delivery.test.ts.
import { deliveryCases } from './helpers/delivery-cases.js';
import { recorder } from './helpers/record.js';
import { singleHub } from './helpers/target.js';

deliveryCases('delivery faults', () => singleHub, recorder('delivery'));
