// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

/// @notice The subset of forge's cheatcodes these tests use (signatures as forge defines them).
/// @dev forge-std is not vendored: the npm "forge-std" package is an unofficial 2022 snapshot that
/// lacks its ds-test dependency. Add a signature here when a test needs another cheatcode.
interface Vm {
    /// An Ethereum log, as returned by `getRecordedLogs`.
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    // Environment and callers.
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;
    function roll(uint256 newHeight) external;
    function label(address account, string calldata newLabel) external;
    function assume(bool condition) external pure;

    // Expectations.
    function expectRevert(bytes calldata revertData) external;
    function expectRevert(bytes4 revertData) external;
    function expectEmit() external;
    function expectEmit(address emitter) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);

    // Gas metering.
    function pauseGasMetering() external;
    function resumeGasMetering() external;

    // Assertions (a failed assertion reverts, which fails the test).
    function assertTrue(bool condition, string calldata err) external pure;
    function assertEq(bool left, bool right, string calldata err) external pure;
    function assertEq(uint256 left, uint256 right, string calldata err) external pure;
    function assertEq(address left, address right, string calldata err) external pure;
    function assertEq(bytes32 left, bytes32 right, string calldata err) external pure;
    function assertEq(bytes calldata left, bytes calldata right, string calldata err) external pure;
    function assertLt(uint256 left, uint256 right, string calldata err) external pure;
}
