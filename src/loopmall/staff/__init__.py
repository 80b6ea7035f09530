"""A merchant's staff: accounts, roles in stores, the staff API and console pages.

Importing the package registers what the lower layers ask of it: the staff accounts the
sign-in machinery reads (``identity.accounts``) and the owner made at a merchant's
onboarding and the staff counts of the store list (``merchants.staffing``)."""

from loopmall.identity.accounts import use_staff_accounts
from loopmall.merchants.staffing import use_merchant_staff
from loopmall.staff.accounts import StaffAccountsInDb, StaffOfMerchants

use_staff_accounts(StaffAccountsInDb())
use_merchant_staff(StaffOfMerchants())
