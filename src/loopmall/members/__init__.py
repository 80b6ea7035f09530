"""Membership (会员): the customers who joined a merchant's membership, so that member prices
apply to them, and the welcome coupon their way in promised.

Below orders and the pages that price for a member (the cart, the store sale, a guide's hold,
the product page); o2o's join codes are one way in and call :func:`service.join` with their
offer. The tables were o2o's until orders needed "is a member" without importing o2o.
"""
