-- Enrich only the Bern customers: filter in a CTE (or view), then pass its name.
WITH bern AS (SELECT * FROM 'examples/customers.csv' WHERE city = 'Bern')
SELECT * FROM telegram_enrich('bern', 'phone');
