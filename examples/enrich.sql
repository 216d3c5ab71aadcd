-- Every customer, in order, with a `telegram` column (yes / no / NULL).
-- Run: tgcheck sql --sandbox < examples/enrich.sql   (from the project folder)
SELECT * FROM telegram_enrich('examples/customers.csv', 'phone');
