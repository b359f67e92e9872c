"""The model's agents, one module per kind, each with its population class (state as arrays,
methods acting on every agent at once) and its Mesa agent class (methods acting on one agent):

* `book` - `ProducerBook`, every producer's state, one row each;
* `producers` - `Producers` (offers, settlement, exits) and `Miner`, `Refiner`, `Recycler`;
* `recyclers` - `RecyclerPool`, recyclers' lagged price-elastic scrap collection;
* `buyers` - `Buyers` (demand, inventories, deliveries) and `Buyer`;
* `developers` - `Pipeline` (review, commissioning, state expansion) and `Developer`;
* `government` - `Governments` and `Government` (ledger).
"""
