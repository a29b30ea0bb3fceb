// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Child
/// @notice What the factory deploys; its constructor reverts for value 0.
contract Child {
    uint256 public value;

    constructor(uint256 initialValue) payable {
        require(initialValue != 0, "zero value");
        value = initialValue;
    }

    /// @notice Sends the balance to `to` and self-destructs (EIP-6780: deleted only when
    ///         called in the transaction that created it).
    function destroy(address payable to) external {
        selfdestruct(to);
    }
}

/// @title Factory
/// @notice Deploys children with CREATE and CREATE2, including creations that revert and
///         children destroyed in the transaction that created them.
contract Factory {
    event Created(address child);
    event CreationFailed(uint256 value);

    /// @notice CREATE; a failed creation is caught and logged.
    function create(uint256 value) external payable returns (address child) {
        try new Child{value: msg.value}(value) returns (Child c) {
            child = address(c);
            emit Created(child);
        } catch {
            emit CreationFailed(value);
        }
    }

    /// @notice CREATE2 with `salt`; reverts the whole call if the child's constructor does.
    function create2(bytes32 salt, uint256 value) external payable returns (address child) {
        child = address(new Child{salt: salt, value: msg.value}(value));
        emit Created(child);
    }

    /// @notice Creates a child and destroys it in the same transaction, sending its balance.
    function createAndDestroy(uint256 value, address payable to) external payable {
        Child c = new Child{value: msg.value}(value);
        c.destroy(to);
    }
}
