// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title Platone Flexibility Token (FLEX)
/// @notice An ERC-20 token (18 decimals) the market operator mints to a participant at the
/// settlement of a delivered flexibility service, once per settlement (FR-MP-SET-05).
contract FlexToken is ERC20, AccessControl {
    /// @notice Role allowed to mint at settlement: `keccak256("MARKET_OPERATOR_ROLE")`.
    bytes32 public constant MARKET_OPERATOR_ROLE = keccak256("MARKET_OPERATOR_ROLE");

    /// @dev Settlement ids already minted for.
    mapping(bytes32 settlementId => bool done) private _settled;

    /// @notice `amount` tokens were minted to `to` for settlement `settlementId`.
    /// @param settlementId The settlement.
    /// @param to The participant credited.
    /// @param amount The amount minted (18 decimals).
    event DeliveryMinted(bytes32 indexed settlementId, address indexed to, uint256 amount);

    /// @notice The admin address given to the constructor is the zero address.
    error ZeroAdmin();
    /// @notice The amount minted must not be zero.
    error ZeroAmount();
    /// @notice Settlement `settlementId` was already minted for.
    error AlreadySettled(bytes32 settlementId);

    /// @notice Deploys the token with no supply.
    /// @param admin Receives `DEFAULT_ADMIN_ROLE` and `MARKET_OPERATOR_ROLE`.
    constructor(address admin) ERC20("Platone Flexibility Token", "FLEX") {
        if (admin == address(0)) revert ZeroAdmin();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MARKET_OPERATOR_ROLE, admin);
    }

    /// @notice Mints `amount` tokens to `to` for settlement `settlementId`.
    /// @dev Only `MARKET_OPERATOR_ROLE`; each settlement id once. Emits {DeliveryMinted} and
    /// the ERC-20 {Transfer} from the zero address.
    /// @param to The participant credited; not the zero address.
    /// @param amount The amount (18 decimals); not zero.
    /// @param settlementId The settlement.
    function mintForDelivery(address to, uint256 amount, bytes32 settlementId)
        external
        onlyRole(MARKET_OPERATOR_ROLE)
    {
        if (amount == 0) revert ZeroAmount();
        if (_settled[settlementId]) revert AlreadySettled(settlementId);
        _settled[settlementId] = true;
        _mint(to, amount);
        emit DeliveryMinted(settlementId, to, amount);
    }

    /// @notice Whether settlement `settlementId` was already minted for.
    /// @param settlementId The settlement.
    /// @return True once {mintForDelivery} succeeded for it.
    function settled(bytes32 settlementId) external view returns (bool) {
        return _settled[settlementId];
    }
}
