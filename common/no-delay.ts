// TCP_NODELAY for an MQTT.js client's connection. MQTT traffic here is small packets that answer
// each other (a segment, its PUBACK, its receipt): with Nagle's algorithm on, a packet written
// while the previous one is still unacknowledged waits for the peer's delayed ACK, up to 40 ms on
// Linux. MQTT.js does not set the option and builds a new socket on every reconnect, so this is
// called from each 'connect' handler. A WebSocket stream has no such call (ws sets it itself).
import type { MqttClient } from 'mqtt';

export function setNoDelay(client: MqttClient): void {
  const stream = client.stream as unknown as { setNoDelay?: (on: boolean) => unknown } | undefined;
  stream?.setNoDelay?.(true);
}
