// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/// @title Subscription declarations between data providers and consumers (D2.13, Table 1)
/// @notice A consumer requests a provider's topic; only that provider accepts or declines, and
/// only while the request is pending. Every declaration is kept and can be listed by topic.
/// @dev The admin role exists for a uniform deployment; it grants no power over subscriptions.
contract SubscriptionRegistry is AccessControl {
    /// @notice The status of a subscription declaration.
    enum Status {
        Requested,
        Accepted,
        Declined
    }

    /// @notice One subscription declaration.
    /// @param id Its identifier, counted from 0.
    /// @param provider Wallet address of the data provider.
    /// @param consumer Wallet address of the data consumer (who requested it).
    /// @param topic The topic subscribed to.
    /// @param timestamp Block time of the last change of status (request, then accept/decline).
    /// @param status Its status.
    struct Subscription {
        uint64 id;
        address provider;
        address consumer;
        string topic;
        uint64 timestamp;
        Status status;
    }

    /// @dev Every subscription, indexed by id.
    Subscription[] private _subscriptions;
    /// @dev Ids of the subscriptions of each topic, keyed by `keccak256(bytes(topic))`.
    mapping(bytes32 topicKey => uint64[] ids) private _byTopic;

    /// @notice `consumer` requested `provider`'s `topic`.
    /// @param id The new subscription's id.
    /// @param provider The data provider.
    /// @param consumer The data consumer.
    /// @param topic The topic.
    event SubscriptionRequested(uint64 indexed id, address indexed provider, address indexed consumer, string topic);

    /// @notice The provider accepted subscription `id`.
    /// @param id The subscription id.
    /// @param provider The data provider.
    /// @param consumer The data consumer.
    event SubscriptionAccepted(uint64 indexed id, address indexed provider, address indexed consumer);

    /// @notice The provider declined subscription `id`.
    /// @param id The subscription id.
    /// @param provider The data provider.
    /// @param consumer The data consumer.
    event SubscriptionDeclined(uint64 indexed id, address indexed provider, address indexed consumer);

    /// @notice The admin address given to the constructor is the zero address.
    error ZeroAdmin();
    /// @notice The provider must not be the zero address.
    error ZeroProvider();
    /// @notice The topic must not be empty.
    error EmptyTopic();
    /// @notice No subscription has id `id`.
    error UnknownSubscription(uint64 id);
    /// @notice `caller` is not the provider of subscription `id`.
    error NotProvider(uint64 id, address caller);
    /// @notice Subscription `id` was already answered (its status is `status`).
    error NotRequested(uint64 id, Status status);

    /// @notice Deploys the registry.
    /// @param admin Receives `DEFAULT_ADMIN_ROLE`.
    constructor(address admin) {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Requests a subscription to `provider`'s `topic`; the caller is the consumer.
    /// @dev Emits {SubscriptionRequested}.
    /// @param provider Wallet address of the data provider; not zero.
    /// @param topic The topic; not empty.
    /// @return id The new subscription's id.
    function request(address provider, string calldata topic) external returns (uint64 id) {
        if (provider == address(0)) revert ZeroProvider();
        if (bytes(topic).length == 0) revert EmptyTopic();
        id = uint64(_subscriptions.length);
        _subscriptions.push(
            Subscription({
                id: id,
                provider: provider,
                consumer: msg.sender,
                topic: topic,
                timestamp: uint64(block.timestamp),
                status: Status.Requested
            })
        );
        _byTopic[keccak256(bytes(topic))].push(id);
        emit SubscriptionRequested(id, provider, msg.sender, topic);
    }

    /// @notice Accepts subscription `id`.
    /// @dev Only its provider, only while it is `Requested`. Emits {SubscriptionAccepted}.
    /// @param id The subscription id.
    function accept(uint64 id) external {
        Subscription storage s = _answer(id, Status.Accepted);
        emit SubscriptionAccepted(id, s.provider, s.consumer);
    }

    /// @notice Declines subscription `id`.
    /// @dev Only its provider, only while it is `Requested`. Emits {SubscriptionDeclined}.
    /// @param id The subscription id.
    function decline(uint64 id) external {
        Subscription storage s = _answer(id, Status.Declined);
        emit SubscriptionDeclined(id, s.provider, s.consumer);
    }

    /// @notice Every subscription to `topic`, oldest first.
    /// @param topic The topic.
    /// @return result The subscriptions; empty for an unknown topic.
    function subscriptionsOf(string calldata topic) external view returns (Subscription[] memory result) {
        uint64[] storage ids = _byTopic[keccak256(bytes(topic))];
        result = new Subscription[](ids.length);
        for (uint256 i = 0; i < ids.length; ++i) {
            result[i] = _subscriptions[ids[i]];
        }
    }

    /// @notice Subscription `id`.
    /// @dev Reverts with {UnknownSubscription} for an id never issued.
    /// @param id The subscription id.
    /// @return The subscription.
    function subscription(uint64 id) external view returns (Subscription memory) {
        if (id >= _subscriptions.length) revert UnknownSubscription(id);
        return _subscriptions[id];
    }

    /// @notice The number of subscriptions so far; the next request gets this id.
    /// @return The number of subscriptions.
    function count() external view returns (uint64) {
        return uint64(_subscriptions.length);
    }

    /// @dev Checks that the caller is the provider of pending subscription `id`, then sets its
    /// status and timestamp.
    function _answer(uint64 id, Status status) private returns (Subscription storage s) {
        if (id >= _subscriptions.length) revert UnknownSubscription(id);
        s = _subscriptions[id];
        if (msg.sender != s.provider) revert NotProvider(id, msg.sender);
        if (s.status != Status.Requested) revert NotRequested(id, s.status);
        s.status = status;
        s.timestamp = uint64(block.timestamp);
    }
}
