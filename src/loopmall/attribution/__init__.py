"""The attribution ledger: touches, customer bindings to stores and guides, the merchant's
rules, and the credits every order and face-to-face payment earns."""
