// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Pair
/// @notice A constant-product AMM pool in the style of Uniswap V2, holding its users' two
///         assets as internal balances so one swap is one call. The execution-heavy workload:
///         fee-adjusted pricing, a full-precision k check, UQ112x112 price accumulators and a
///         square-root liquidity figure per swap.
contract Pair {
    uint256 private constant Q112 = 2 ** 112;

    uint112 public reserve0;
    uint112 public reserve1;
    uint32 public blockTimestampLast;
    uint256 public price0CumulativeLast;
    uint256 public price1CumulativeLast;
    uint256 public rootK;

    mapping(address => uint256) public balance0;
    mapping(address => uint256) public balance1;

    event Swap(address indexed sender, uint256 amountIn, uint256 amountOut, bool zeroForOne);
    event Sync(uint112 reserve0, uint112 reserve1);

    error InsufficientInput();
    error InsufficientOutput(uint256 out, uint256 minOut);
    error InsufficientBalance();
    error KInvariant();

    constructor(uint112 initialReserve0, uint112 initialReserve1) {
        reserve0 = initialReserve0;
        reserve1 = initialReserve1;
        blockTimestampLast = uint32(block.timestamp);
    }

    /// @notice Credits internal balances to `to` (the workloads' funding step).
    function deposit(address to, uint256 amount0, uint256 amount1) external {
        balance0[to] += amount0;
        balance1[to] += amount1;
    }

    /// @notice Swaps `amountIn` of one asset for the other from the caller's balances.
    function swap(uint256 amountIn, bool zeroForOne, uint256 minOut)
        external
        returns (uint256 amountOut)
    {
        if (amountIn == 0) revert InsufficientInput();
        (uint256 rIn, uint256 rOut) = zeroForOne
            ? (uint256(reserve0), uint256(reserve1))
            : (uint256(reserve1), uint256(reserve0));
        uint256 inWithFee = amountIn * 997;
        amountOut = (inWithFee * rOut) / (rIn * 1000 + inWithFee);
        if (amountOut < minOut || amountOut == 0) revert InsufficientOutput(amountOut, minOut);
        if (zeroForOne) {
            if (balance0[msg.sender] < amountIn) revert InsufficientBalance();
            balance0[msg.sender] -= amountIn;
            balance1[msg.sender] += amountOut;
        } else {
            if (balance1[msg.sender] < amountIn) revert InsufficientBalance();
            balance1[msg.sender] -= amountIn;
            balance0[msg.sender] += amountOut;
        }
        uint256 newIn = rIn + amountIn;
        uint256 newOut = rOut - amountOut;
        // The fee-adjusted invariant, checked at full precision as Uniswap V2 does.
        if ((newIn * 1000 - amountIn * 3) * (newOut * 1000) < rIn * rOut * 1_000_000) {
            revert KInvariant();
        }
        (uint256 n0, uint256 n1) = zeroForOne ? (newIn, newOut) : (newOut, newIn);
        _update(n0, n1);
        emit Swap(msg.sender, amountIn, amountOut, zeroForOne);
    }

    function _update(uint256 n0, uint256 n1) private {
        uint32 timestamp = uint32(block.timestamp);
        unchecked {
            uint32 elapsed = timestamp - blockTimestampLast;
            if (elapsed > 0) {
                price0CumulativeLast += (uint256(reserve1) * Q112 / reserve0) * elapsed;
                price1CumulativeLast += (uint256(reserve0) * Q112 / reserve1) * elapsed;
            }
        }
        reserve0 = uint112(n0);
        reserve1 = uint112(n1);
        blockTimestampLast = timestamp;
        rootK = _sqrt(n0 * n1);
        emit Sync(uint112(n0), uint112(n1));
    }

    /// @dev Babylonian square root.
    function _sqrt(uint256 y) private pure returns (uint256 z) {
        if (y > 3) {
            z = y;
            uint256 x = y / 2 + 1;
            while (x < z) {
                z = x;
                x = (y / x + x) / 2;
            }
        } else if (y != 0) {
            z = 1;
        }
    }
}
