// An agent MQTT link with placeholder credentials and fast reconnects, for tests of the link
// itself against a broker of their own.
import { systemClock } from '../../../agent/clock.js';
import { MqttLink } from '../../../agent/link.js';

export function testLink(url: string, clientId: string): MqttLink {
  const link = new MqttLink({
    url,
    clientId,
    credential: () => ({ username: 'u', password: 'p' }),
    will: () => ({ topic: 'w', payload: new Uint8Array(1) }),
    subscriptions: ['x/#'],
    reconnectMinMs: 10,
    reconnectMaxMs: 50,
    clock: systemClock,
  });
  link.on('error', () => undefined);
  return link;
}
