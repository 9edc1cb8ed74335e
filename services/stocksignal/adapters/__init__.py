"""Channel adapters: the Redis read model (projector), the storefront read API and the
marketplace sync worker. They consume ``inventory.availability.v1`` and never write the
processor's topics. See docs/adapters.md.
"""
