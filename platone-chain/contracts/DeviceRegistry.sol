// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title Device keys of the points of delivery, with their validity periods
/// @notice Maps a PoD (or meter) identifier to the address of the device key that signs its
/// measurements. Only the DSO registers, rotates and revokes; every entry is kept, so
/// {deviceAt} answers for any past time.
/// @dev Times are Unix seconds and never zero (`validUntil == 0` marks the open entry). Entries
/// of a PoD never overlap: each starts no earlier than the one before it ends.
contract DeviceRegistry is AccessControl {
    /// @notice Role allowed to register, rotate and revoke devices: `keccak256("DSO_ROLE")`.
    bytes32 public constant DSO_ROLE = keccak256("DSO_ROLE");

    /// @notice One validity period of a device key for a PoD.
    /// @param device The device address.
    /// @param validFrom First second the device is valid (inclusive).
    /// @param validUntil First second it is no longer valid (exclusive); 0 while open.
    /// @param revoked Whether the period was ended by {revoke} rather than by {rotate}.
    struct DeviceEntry {
        address device;
        uint64 validFrom;
        uint64 validUntil;
        bool revoked;
    }

    /// @dev History of each PoD, keyed by `keccak256(bytes(pod))`, oldest first.
    mapping(bytes32 podKey => DeviceEntry[] entries) private _history;

    /// @notice `device` became the device of `pod` from `validFrom`.
    /// @param pod The PoD identifier.
    /// @param device The device address.
    /// @param validFrom First second of validity.
    event DeviceRegistered(string pod, address indexed device, uint64 validFrom);

    /// @notice The device of `pod` changed from `previous` to `device` at `validFrom`.
    /// @param pod The PoD identifier.
    /// @param previous The device whose entry was closed at `validFrom`.
    /// @param device The new device address.
    /// @param validFrom First second of the new device's validity.
    event DeviceRotated(string pod, address indexed previous, address indexed device, uint64 validFrom);

    /// @notice The device of `pod` was revoked from `validUntil` on; `pod` has no device from
    /// then.
    /// @param pod The PoD identifier.
    /// @param device The revoked device address.
    /// @param validUntil First second the device is no longer valid.
    event DeviceRevoked(string pod, address indexed device, uint64 validUntil);

    /// @notice The admin address given to the constructor is the zero address.
    error ZeroAdmin();
    /// @notice A device address must not be the zero address.
    error ZeroDevice();
    /// @notice A PoD identifier must not be empty.
    error EmptyPod();
    /// @notice Times must not be zero (zero marks an open entry).
    error ZeroTime();
    /// @notice `pod` already has an open entry (use {rotate} or {revoke}).
    error AlreadyRegistered(string pod, address device);
    /// @notice `pod` has no open entry to rotate or revoke.
    error NoOpenEntry(string pod);
    /// @notice `time` is earlier than `earliest`, the start (or end) of the current entry.
    error TimeBeforeCurrent(uint64 time, uint64 earliest);

    /// @notice Deploys the registry.
    /// @param admin Receives `DEFAULT_ADMIN_ROLE` and `DSO_ROLE`.
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(DSO_ROLE, admin);
    }

    /// @notice Registers `device` for `pod` from `from` on.
    /// @dev Only `DSO_ROLE`. Reverts when `pod` already has an open entry, or when `from` is
    /// earlier than the end of its last (closed) entry. Emits {DeviceRegistered}.
    /// @param pod The PoD identifier; not empty.
    /// @param device The device address; not zero.
    /// @param from First second of validity; not zero.
    function register(string calldata pod, address device, uint64 from) external onlyRole(DSO_ROLE) {
        _checkArguments(pod, device, from);
        DeviceEntry[] storage entries = _history[keccak256(bytes(pod))];
        uint256 length = entries.length;
        if (length != 0) {
            DeviceEntry storage last = entries[length - 1];
            if (last.validUntil == 0) revert AlreadyRegistered(pod, last.device);
            if (from < last.validUntil) revert TimeBeforeCurrent(from, last.validUntil);
        }
        entries.push(DeviceEntry({device: device, validFrom: from, validUntil: 0, revoked: false}));
        emit DeviceRegistered(pod, device, from);
    }

    /// @notice Replaces the device of `pod` by `device` from `from` on: the current entry is
    /// closed at `from` and a new one opens there.
    /// @dev Only `DSO_ROLE`. Reverts when `pod` has no open entry or `from` is earlier than the
    /// current entry's start. Emits {DeviceRotated}.
    /// @param pod The PoD identifier.
    /// @param device The new device address; not zero.
    /// @param from First second of the new device's validity; not zero.
    function rotate(string calldata pod, address device, uint64 from) external onlyRole(DSO_ROLE) {
        _checkArguments(pod, device, from);
        DeviceEntry[] storage entries = _history[keccak256(bytes(pod))];
        DeviceEntry storage current = _openEntry(entries, pod, from);
        address previous = current.device;
        current.validUntil = from;
        entries.push(DeviceEntry({device: device, validFrom: from, validUntil: 0, revoked: false}));
        emit DeviceRotated(pod, previous, device, from);
    }

    /// @notice Revokes the device of `pod` from `time` on; {deviceAt} answers `address(0)` from
    /// then until a new device is registered.
    /// @dev Only `DSO_ROLE`. Reverts when `pod` has no open entry or `time` is earlier than the
    /// current entry's start. Emits {DeviceRevoked}.
    /// @param pod The PoD identifier.
    /// @param time First second the device is no longer valid; not zero.
    function revoke(string calldata pod, uint64 time) external onlyRole(DSO_ROLE) {
        if (bytes(pod).length == 0) revert EmptyPod();
        if (time == 0) revert ZeroTime();
        DeviceEntry storage current = _openEntry(_history[keccak256(bytes(pod))], pod, time);
        current.validUntil = time;
        current.revoked = true;
        emit DeviceRevoked(pod, current.device, time);
    }

    /// @notice The device valid for `pod` at `time`, or `address(0)` when none was.
    /// @param pod The PoD identifier.
    /// @param time A Unix time in seconds, past or future.
    /// @return The device address valid at `time`, or `address(0)`.
    function deviceAt(string calldata pod, uint64 time) external view returns (address) {
        DeviceEntry[] storage entries = _history[keccak256(bytes(pod))];
        for (uint256 i = entries.length; i > 0; --i) {
            DeviceEntry storage entry = entries[i - 1];
            if (entry.validFrom <= time) {
                if (entry.validUntil == 0 || time < entry.validUntil) return entry.device;
                return address(0);
            }
        }
        return address(0);
    }

    /// @notice Every entry of `pod`, oldest first.
    /// @param pod The PoD identifier.
    /// @return The entries; empty for an unknown PoD.
    function historyOf(string calldata pod) external view returns (DeviceEntry[] memory) {
        return _history[keccak256(bytes(pod))];
    }

    /// @dev Rejects an empty PoD, a zero device and a zero time.
    function _checkArguments(string calldata pod, address device, uint64 time) private pure {
        if (bytes(pod).length == 0) revert EmptyPod();
        if (device == address(0)) revert ZeroDevice();
        if (time == 0) revert ZeroTime();
    }

    /// @dev The open (last) entry of `entries`, checked to start no later than `time`.
    function _openEntry(DeviceEntry[] storage entries, string calldata pod, uint64 time)
        private
        view
        returns (DeviceEntry storage current)
    {
        uint256 length = entries.length;
        if (length == 0) revert NoOpenEntry(pod);
        current = entries[length - 1];
        if (current.validUntil != 0) revert NoOpenEntry(pod);
        if (time < current.validFrom) revert TimeBeforeCurrent(time, current.validFrom);
    }
}
