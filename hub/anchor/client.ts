// The anchoring operations that need viem, loaded only when anchoring is configured (see index.ts).
export { confirmAnchor, confirmEpochRecord, locateAnchor, type AnchorVerdict, type ConfirmOptions } from './confirm.js';
export { deployAnchorContract, type Deployment } from './deploy.js';
export {
  AnchorPublisher,
  type AnchorAccount,
  type AnchorEvent,
  type EpochAnchor,
  type PublishOptions,
} from './publish.js';
export { generatePrivateKey as generateAnchorKey, privateKeyToAddress as anchorAddress } from 'viem/accounts';
