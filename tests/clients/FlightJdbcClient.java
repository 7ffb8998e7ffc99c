// What DBeaver does on connect, through the Arrow Flight SQL JDBC driver: DatabaseMetaData
// (catalogs, schemas, tables, columns, primary keys), then PreparedStatement queries with
// parameters. Prints one `key=value` line per fact for the Rust test to check.
//
// Usage: java -cp flight-sql-jdbc-driver.jar:CLASSES FlightJdbcClient HOST PORT USER PASSWORD

import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;

public final class FlightJdbcClient {
    private static String join(List<String> items) {
        return String.join(",", items);
    }

    private static List<String> column(ResultSet rs, String name) throws SQLException {
        List<String> out = new ArrayList<>();
        try (rs) {
            while (rs.next()) {
                out.add(rs.getString(name));
            }
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: FlightJdbcClient HOST PORT USER PASSWORD");
            System.exit(2);
        }
        String url = "jdbc:arrow-flight-sql://" + args[0] + ":" + args[1] + "/?useEncryption=false";
        Properties props = new Properties();
        props.setProperty("user", args[2]);
        props.setProperty("password", args[3]);
        try (Connection conn = DriverManager.getConnection(url, props)) {
            DatabaseMetaData md = conn.getMetaData();
            System.out.println("product=" + md.getDatabaseProductName() + " " + md.getDatabaseProductVersion());
            System.out.println("readonly=" + md.isReadOnly());
            System.out.println("quote=" + md.getIdentifierQuoteString());
            System.out.println("transactions=" + md.supportsTransactions());
            System.out.println("keywords_present=" + !md.getSQLKeywords().isEmpty());
            System.out.println("numeric_functions_present=" + !md.getNumericFunctions().isEmpty());
            System.out.println("catalogs=" + join(column(md.getCatalogs(), "TABLE_CAT")));
            System.out.println("schemas=" + join(column(md.getSchemas(), "TABLE_SCHEM")));
            List<String> tables = new ArrayList<>();
            try (ResultSet rs = md.getTables(null, null, "%", null)) {
                while (rs.next()) {
                    tables.add(rs.getString("TABLE_SCHEM") + "." + rs.getString("TABLE_NAME") + ":" + rs.getString("TABLE_TYPE"));
                }
            }
            System.out.println("tables=" + join(tables));
            for (String table : new String[] {"users", "transactions", "cards"}) {
                List<String> cols = new ArrayList<>();
                try (ResultSet rs = md.getColumns("finlake", "bronze", table, "%")) {
                    while (rs.next()) {
                        cols.add(rs.getString("COLUMN_NAME") + ":" + rs.getString("TYPE_NAME"));
                    }
                }
                System.out.println("columns." + table + "=" + join(cols));
                System.out.println("pk." + table + "=" + join(column(md.getPrimaryKeys("finlake", "bronze", table), "COLUMN_NAME")));
            }
            System.out.println("imported_keys.cards=" + column(md.getImportedKeys("finlake", "bronze", "cards"), "FKCOLUMN_NAME").size());

            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT COUNT(*) AS n FROM bronze.users WHERE id >= ?")) {
                ps.setLong(1, 0L);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    System.out.println("users_count=" + rs.getLong("n"));
                }
            }
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT id, card_brand, credit_limit FROM bronze.cards WHERE card_brand = ? ORDER BY id LIMIT 3")) {
                ps.setString(1, "Visa");
                ResultSetMetaData rmd = ps.getMetaData();
                System.out.println("prepared_columns=" + rmd.getColumnCount());
                try (ResultSet rs = ps.executeQuery()) {
                    List<String> rows = new ArrayList<>();
                    while (rs.next()) {
                        rows.add(rs.getLong(1) + "/" + rs.getString(2) + "/" + rs.getBigDecimal(3).toPlainString());
                    }
                    System.out.println("visa_cards=" + join(rows));
                }
            }
            try (PreparedStatement ps = conn.prepareStatement("UPDATE bronze.users SET id = 0")) {
                ps.executeUpdate();
                System.out.println("update=accepted");
            } catch (SQLException e) {
                StringBuilder chain = new StringBuilder();
                for (Throwable t = e; t != null; t = t.getCause()) {
                    chain.append(t.getMessage()).append(" | ");
                }
                System.out.println("update=refused " + (chain.indexOf("read-only") >= 0 ? "read-only" : chain.toString()));
            }
        }
    }
}
