// SPDX-License-Identifier: UNLICENSED
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";

/// @notice Minimal test base: the cheatcode handle, `bound`, and invariant target selection.
abstract contract Test {
    /// @dev forge's cheatcode address: address(uint160(uint256(keccak256("hevm cheat code")))).
    Vm internal constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);

    address[] private _targetContracts;

    /// @notice Contracts the invariant fuzzer calls; read by forge. Empty means "all deployed".
    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    /// @dev Restricts invariant fuzzing to `target` (and any other contract added the same way).
    function targetContract(address target) internal {
        _targetContracts.push(target);
    }

    /// @dev Maps `x` uniformly enough onto `[min, max]` (fuzz inputs stay reproducible).
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        uint256 size = max - min;
        if (size == type(uint256).max) return x;
        return min + (x % (size + 1));
    }
}
