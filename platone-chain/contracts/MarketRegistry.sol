// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title Market results registered on chain
/// @notice The market operator registers the hash of each market session's result and the
/// Merkle root over its awards, once per session and never overwritten; a participant proves
/// its award against that root.
/// @dev The awards tree is OpenZeppelin `StandardMerkleTree`-compatible over single `bytes32`
/// values: the leaf of an award is `keccak256(bytes.concat(keccak256(abi.encode(awardHash))))`
/// (see {awardLeaf}), checked with OpenZeppelin `MerkleProof.verify`.
contract MarketRegistry is AccessControl {
    /// @notice Role allowed to register results: `keccak256("MARKET_OPERATOR_ROLE")`.
    bytes32 public constant MARKET_OPERATOR_ROLE = keccak256("MARKET_OPERATOR_ROLE");

    /// @dev A registered result.
    struct Result {
        bytes32 resultHash;
        bytes32 awardsRoot;
        uint64 registeredAt;
    }

    /// @dev Results by session id; `resultHash == 0` means not registered.
    mapping(bytes32 sessionId => Result result) private _results;

    /// @notice The result of session `sessionId` was registered.
    /// @param sessionId The market session.
    /// @param resultHash Hash of the session's result.
    /// @param awardsRoot Merkle root over the session's award hashes.
    event ResultRegistered(bytes32 indexed sessionId, bytes32 resultHash, bytes32 awardsRoot);

    /// @notice The admin address given to the constructor is the zero address.
    error ZeroAdmin();
    /// @notice A result hash must not be `bytes32(0)`.
    error ZeroResultHash();
    /// @notice Session `sessionId` already has a registered result.
    error AlreadyRegistered(bytes32 sessionId);
    /// @notice Session `sessionId` has no registered result.
    error UnknownSession(bytes32 sessionId);

    /// @notice Deploys the registry.
    /// @param admin Receives `DEFAULT_ADMIN_ROLE` and `MARKET_OPERATOR_ROLE`.
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MARKET_OPERATOR_ROLE, admin);
    }

    /// @notice Registers the result of session `sessionId`.
    /// @dev Only `MARKET_OPERATOR_ROLE`; once per session. Records the block timestamp and
    /// emits {ResultRegistered}.
    /// @param sessionId The market session.
    /// @param resultHash Hash of the session's result; not zero.
    /// @param awardsRoot Merkle root over the session's award hashes.
    function registerResult(bytes32 sessionId, bytes32 resultHash, bytes32 awardsRoot)
        external
        onlyRole(MARKET_OPERATOR_ROLE)
    {
        if (resultHash == bytes32(0)) revert ZeroResultHash();
        Result storage result = _results[sessionId];
        if (result.resultHash != bytes32(0)) revert AlreadyRegistered(sessionId);
        result.resultHash = resultHash;
        result.awardsRoot = awardsRoot;
        result.registeredAt = uint64(block.timestamp);
        emit ResultRegistered(sessionId, resultHash, awardsRoot);
    }

    /// @notice The registered result of session `sessionId`.
    /// @dev Reverts with {UnknownSession} when none was registered.
    /// @param sessionId The market session.
    /// @return resultHash Hash of the session's result.
    /// @return awardsRoot Merkle root over the session's award hashes.
    /// @return registeredAt Timestamp of the block that registered it.
    function resultOf(bytes32 sessionId)
        public
        view
        returns (bytes32 resultHash, bytes32 awardsRoot, uint64 registeredAt)
    {
        Result storage result = _results[sessionId];
        if (result.resultHash == bytes32(0)) revert UnknownSession(sessionId);
        return (result.resultHash, result.awardsRoot, result.registeredAt);
    }

    /// @notice Whether session `sessionId` has a registered result.
    /// @param sessionId The market session.
    /// @return True once {registerResult} succeeded for it.
    function isRegistered(bytes32 sessionId) external view returns (bool) {
        return _results[sessionId].resultHash != bytes32(0);
    }

    /// @notice Whether `proof` proves that the award with `awardHash` is under the awards root
    /// of session `sessionId`.
    /// @dev The leaf is {awardLeaf}(`awardHash`). Reverts with {UnknownSession} for a session
    /// without a registered result.
    /// @param sessionId The market session.
    /// @param awardHash The award hash (the leaf value).
    /// @param proof Sibling hashes from the leaf up to the root.
    /// @return True when the proof leads from the leaf to the awards root.
    function verifyAward(bytes32 sessionId, bytes32 awardHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        (, bytes32 awardsRoot,) = resultOf(sessionId);
        return MerkleProof.verifyCalldata(proof, awardsRoot, awardLeaf(awardHash));
    }

    /// @notice The Merkle leaf of an award: the OpenZeppelin `StandardMerkleTree` leaf of the
    /// single `bytes32` value `awardHash`.
    /// @param awardHash The award hash.
    /// @return `keccak256(bytes.concat(keccak256(abi.encode(awardHash))))`.
    function awardLeaf(bytes32 awardHash) public pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(awardHash))));
    }
}
