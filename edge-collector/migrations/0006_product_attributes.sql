-- Feed attributes (colour, size, material, YML <param>s, CSV extra columns) as a JSON object.
ALTER TABLE products ADD COLUMN attributes TEXT;
