# A Rails shop (ActiveRecord, as a Rails application uses it) on SQLite or PostgreSQL:
#   ruby shop.rb STEP   with SHOP_SQLITE=path or SHOP_PG=postgresql://...
# Steps: migrate (the schema, by the migrations), fill, dump (every object as JSON: each
# attribute's value and Ruby class), use (queries and writes), evolve (the next migration).
require "active_record"
require "bigdecimal"
require "json"

HERE = File.expand_path(__dir__)
ActiveRecord::Base.logger = nil
ActiveRecord::Migration.verbose = false
if ENV["SHOP_PG"]
  ActiveRecord::Base.establish_connection(ENV["SHOP_PG"])
else
  ActiveRecord::Base.establish_connection(adapter: "sqlite3", database: ENV.fetch("SHOP_SQLITE"))
end

class Tenant < ActiveRecord::Base
  has_many :items
end

class Item < ActiveRecord::Base
  belongs_to :tenant
  enum status: { draft: 0, live: 1, retired: 2 }
end

def migrate(dir)
  ActiveRecord::MigrationContext.new(File.join(HERE, dir), ActiveRecord::SchemaMigration).migrate
end

def fill
  acme = Tenant.create!(name: "Acme", slug: "acme", settings: { "plan" => "pro", "seats" => 5 })
  beta = Tenant.create!(name: "Béta ünïcode", slug: "beta", active: false, settings: nil)
  Item.create!(tenant: acme, title: "Widget", body: "a\nmultiline \"body\"", price: BigDecimal("12.50"),
               weight: 0.1, qty: 3, views: 2**40, status: :live, opens_at: "09:30:15",
               released_on: Date.new(2024, 2, 29), published_at: Time.utc(2024, 3, 1, 12, 0, 0, 123456),
               payload: "\x00\xFFbytes".b, tags: ["a", { "b" => 1 }], featured: true)
  Item.create!(tenant: acme, title: "Gadget", price: BigDecimal("0.10"), weight: -1.5e-3,
               status: :draft, featured: false, opens_at: "23:59:59", released_on: Date.new(1999, 12, 31))
  Item.create!(tenant: beta, title: "Nothing set", status: :retired)
end

def value(v)
  case v
  when Time then ["Time", v.utc.iso8601(6)]
  when BigDecimal then ["BigDecimal", v.to_s("F")]
  when Float then ["Float", v.to_s]
  when String then [v.encoding == Encoding::BINARY ? "binary" : "String", v.encoding == Encoding::BINARY ? v.unpack1("H*") : v]
  when nil then ["nil", nil]
  else [v.class.name, v.as_json]
  end
end

def dump
  out = {}
  [Tenant, Item].each do |model|
    out[model.name] = model.order(:id).map do |r|
      r.attributes.keys.sort.map { |k| [k, value(r.read_attribute_before_type_cast(k).nil? ? nil : r.public_send(k))] }.to_h
    end
  end
  puts JSON.generate(out)
end

def use
  acme = Tenant.find_by!(slug: "acme")
  raise "enum" unless Item.live.where(tenant: acme).pluck(:title) == ["Widget"]
  raise "boolean" unless Item.where(featured: false).count == 1 && Tenant.where(active: true).count == 1
  raise "sum" unless Item.sum(:price) == BigDecimal("12.60")
  raise "date" unless Item.where("released_on > ?", Date.new(2000, 1, 1)).pluck(:title) == ["Widget"]
  raise "time" unless Item.where("published_at >= ?", Time.utc(2024, 3, 1, 12)).count == 1
  raise "json" unless Tenant.find_by!(slug: "acme").settings["seats"] == 5
  item = Item.create!(tenant: acme, title: "New", status: :live)  # ids continue
  raise "id #{item.id}" unless item.id == 4
  item.update!(price: BigDecimal("1.25"), featured: true)
  acme.items.where(title: "Gadget").first.destroy!
  raise "count" unless acme.items.count == 2
  puts "ok"
end

case ARGV[0]
when "migrate" then migrate("db/migrate")
when "fill" then fill
when "dump" then dump
when "use" then use
when "evolve"
  migrate("db/next")
  Item.reset_column_information
  raise "sku" unless Item.column_names.include?("sku") && Item.create!(tenant: Tenant.first, title: "After", body: "b", sku: "X1").sku == "X1"
  puts "ok"
else abort "unknown step #{ARGV[0].inspect}"
end
