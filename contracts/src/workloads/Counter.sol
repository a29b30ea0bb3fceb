// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Counter
/// @notice One shared counter every caller increments: the contended "hot spot" workload.
contract Counter {
    uint256 public count;
    mapping(address => uint256) public byCaller;

    event Incremented(address indexed by, uint256 count);

    /// @notice Adds one to the shared count and to the caller's own count.
    function increment() external returns (uint256) {
        uint256 next = count + 1;
        count = next;
        byCaller[msg.sender] += 1;
        emit Incremented(msg.sender, next);
        return next;
    }
}
