// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title Aggregate anchoring of certified measurement batches
/// @notice Each anchor is the root of a Merkle tree over the certificate hashes of every batch
/// sealed since the previous anchor. Anchors are stored at consecutive positions starting at 0;
/// each one chains to the root before it (the first chains to `bytes32(0)`).
/// @dev The tree is OpenZeppelin `StandardMerkleTree`-compatible over single `bytes32` values:
/// the leaf of a batch is `keccak256(bytes.concat(keccak256(abi.encode(certificateHash))))`
/// (see {batchLeaf}), inner nodes hash the sorted pair of children (OpenZeppelin `Hashes`), and
/// a proof is checked with OpenZeppelin `MerkleProof.verify`. Any contract or off-chain tool that
/// builds the same tree can verify a batch against {anchorAt}.
contract CertificationAnchor is AccessControl {
    /// @notice Role allowed to call {anchor}: `keccak256("ANCHORER_ROLE")`.
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// @dev Root of each anchor, indexed by position.
    bytes32[] private _roots;
    /// @dev Block timestamps of the anchors, four 64-bit values per word (position / 4 is the
    /// word, position % 4 the lane), so three anchors in four write no fresh storage slot.
    mapping(uint256 word => uint256 lanes) private _timestamps;

    /// @notice A new root was anchored.
    /// @param position Position of the anchor, counted from 0.
    /// @param root Merkle root over the certificate hashes of the batches it covers.
    /// @param previous Root of the anchor at `position - 1`, or `bytes32(0)` for the first one.
    /// @param batches Number of batches (leaves) the root covers.
    event Anchored(uint64 indexed position, bytes32 root, bytes32 previous, uint32 batches);

    /// @notice The admin address given to the constructor is the zero address.
    error ZeroAdmin();
    /// @notice An anchor's root must not be `bytes32(0)`.
    error ZeroRoot();
    /// @notice An anchor must cover at least one batch.
    error ZeroBatches();
    /// @notice No anchor exists at `position`; `count` anchors exist.
    error UnknownPosition(uint64 position, uint64 count);
    /// @notice Nothing has been anchored yet.
    error NoAnchor();

    /// @notice Deploys the contract.
    /// @param admin Receives `DEFAULT_ADMIN_ROLE` and `ANCHORER_ROLE`.
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ANCHORER_ROLE, admin);
    }

    /// @notice Anchors `root` at the next position, chained to the previous root.
    /// @dev Only `ANCHORER_ROLE`. Records the block timestamp and emits {Anchored}.
    /// @param root Merkle root over the certificate hashes of the batches sealed since the last
    /// anchor; must not be zero.
    /// @param batches Number of batches (leaves) under `root`; must not be zero.
    /// @return position The position of the new anchor (0 for the first).
    function anchor(bytes32 root, uint32 batches) external onlyRole(ANCHORER_ROLE) returns (uint64 position) {
        if (root == bytes32(0)) revert ZeroRoot();
        if (batches == 0) revert ZeroBatches();
        uint256 length = _roots.length;
        position = uint64(length);
        bytes32 previous = length == 0 ? bytes32(0) : _roots[length - 1];
        _roots.push(root);
        uint256 shift = (length % 4) * 64;
        _timestamps[length / 4] |= uint256(uint64(block.timestamp)) << shift;
        emit Anchored(position, root, previous, batches);
    }

    /// @notice The root and block timestamp of the anchor at `position`.
    /// @dev Reverts with {UnknownPosition} when `position >= count()`.
    /// @param position Position of the anchor, counted from 0.
    /// @return root The anchored Merkle root.
    /// @return timestamp The timestamp of the block that anchored it (Unix seconds).
    function anchorAt(uint64 position) public view returns (bytes32 root, uint64 timestamp) {
        uint256 length = _roots.length;
        if (position >= length) revert UnknownPosition(position, uint64(length));
        root = _roots[position];
        timestamp = uint64(_timestamps[position / 4] >> ((position % 4) * 64));
    }

    /// @notice Whether `proof` proves that the batch with `certificateHash` is under the root
    /// anchored at `position`.
    /// @dev The leaf is {batchLeaf}(`certificateHash`), checked with OpenZeppelin
    /// `MerkleProof.verify`. Reverts with {UnknownPosition} for a position never anchored.
    /// @param position Position of the anchor the batch belongs to.
    /// @param certificateHash The batch certificate hash (the leaf value).
    /// @param proof Sibling hashes from the leaf up to the root.
    /// @return True when the proof leads from the leaf to the anchored root.
    function verifyBatch(uint64 position, bytes32 certificateHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        (bytes32 root,) = anchorAt(position);
        return MerkleProof.verifyCalldata(proof, root, batchLeaf(certificateHash));
    }

    /// @notice The Merkle leaf of a batch: the OpenZeppelin `StandardMerkleTree` leaf of the
    /// single `bytes32` value `certificateHash`.
    /// @param certificateHash The batch certificate hash.
    /// @return `keccak256(bytes.concat(keccak256(abi.encode(certificateHash))))`.
    function batchLeaf(bytes32 certificateHash) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(certificateHash))));
    }

    /// @notice The number of anchors so far; the next anchor gets this position.
    /// @return The number of anchors.
    function count() external view returns (uint64) {
        return uint64(_roots.length);
    }

    /// @notice The most recent anchor.
    /// @dev Reverts with {NoAnchor} when nothing has been anchored yet.
    /// @return position Its position (`count() - 1`).
    /// @return root Its root.
    /// @return timestamp The timestamp of the block that anchored it.
    function latest() external view returns (uint64 position, bytes32 root, uint64 timestamp) {
        uint256 length = _roots.length;
        if (length == 0) revert NoAnchor();
        position = uint64(length - 1);
        (root, timestamp) = anchorAt(position);
    }
}
