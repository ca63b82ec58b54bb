// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Tally epoch-root anchor
/// @notice Publishes the Merkle roots of a Tally hub's settlement epochs, append-only.
///
/// Each sending account has its own namespace per hub key (the hub's Ed25519 public key): nobody can
/// take another account's epochs, so a stranger cannot squat a hub's next epoch with a wrong root.
/// Within a namespace every epoch is anchored at most once and in order (the first anchor may start
/// at any epoch, each later one continues at last + 1), so a root, once anchored, can never be
/// replaced and no epoch can be skipped and filled in later.
///
/// Roots live only in the event log: the contract stores one number per namespace (the last epoch
/// anchored), which is all it needs to refuse a second root for an epoch. A verifier reads the log of
/// the stated block and checks that the code at this address is this contract's (whose order rule
/// makes that log the only one for the epoch). The contract holds no ether, has no owner and cannot
/// be upgraded or destroyed.
contract TallyAnchor {
    /// @notice The last epoch `anchorer` anchored for `hubKey`; 0 before its first anchor.
    mapping(address anchorer => mapping(bytes32 hubKey => uint64 epoch)) public lastEpoch;

    /// @notice `roots[i]` is the root of epoch `firstEpoch + i` of `hubKey`, anchored by `anchorer`.
    event Anchored(address indexed anchorer, bytes32 indexed hubKey, uint64 indexed firstEpoch, bytes32[] roots);

    /// @notice `firstEpoch` is not the next epoch of this namespace (`lastAnchored` + 1, or any epoch
    /// >= 1 when `lastAnchored` is 0): it was anchored already, or the batch would leave a gap.
    error EpochNotNext(uint64 lastAnchored, uint64 firstEpoch);

    /// @notice A batch with no root.
    error NoRoots();

    /// @notice Anchors the roots of epochs `firstEpoch` .. `firstEpoch + roots.length - 1` of `hubKey`.
    function anchor(bytes32 hubKey, uint64 firstEpoch, bytes32[] calldata roots) external {
        if (roots.length == 0) revert NoRoots();
        uint64 last = lastEpoch[msg.sender][hubKey];
        if (last == 0 ? firstEpoch == 0 : firstEpoch != last + 1) revert EpochNotNext(last, firstEpoch);
        uint256 newLast = uint256(firstEpoch) + roots.length - 1;
        if (newLast > type(uint64).max) revert EpochNotNext(last, firstEpoch);
        lastEpoch[msg.sender][hubKey] = uint64(newLast);
        emit Anchored(msg.sender, hubKey, firstEpoch, roots);
    }
}
